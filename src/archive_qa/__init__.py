"""archive_qa: ask an archive of dated documents a question, get the dated sources back, cited."""

from .archive import Archive, open_index

__all__ = ["Archive", "open_index"]
__version__ = "0.1.0"
