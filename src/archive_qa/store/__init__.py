"""Storage behind one protocol (base.py): the embedded SQLite + FAISS generations, or a server (factory.py)."""

from .base import Filters, StoreReader, StoreWriter
from .factory import open_store, open_writer
from .layout import IndexCorruptError, IndexError_, IndexMismatchError, IndexMissingError, IndexWriteError
from .store import DATABASE_ERRORS, Store

__all__ = ["Store", "StoreReader", "StoreWriter", "Filters", "open_store", "open_writer", "DATABASE_ERRORS",
           "IndexError_", "IndexMissingError", "IndexMismatchError", "IndexCorruptError", "IndexWriteError"]
