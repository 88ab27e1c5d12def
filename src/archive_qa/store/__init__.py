"""Storage: SQLite for records and full text, FAISS for vectors, published as atomic generations."""

from .layout import IndexCorruptError, IndexError_, IndexMismatchError, IndexMissingError, IndexWriteError
from .store import Store

__all__ = ["Store", "IndexError_", "IndexMissingError", "IndexMismatchError", "IndexCorruptError", "IndexWriteError"]
