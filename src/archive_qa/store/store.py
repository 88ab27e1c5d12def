"""One published generation of an index, opened for reading: documents, full text and vectors."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..documents import Document
from ..passages import Passage
from . import vectors as vector_index
from .database import Database, create
from .layout import (
    DATABASE, FAISS, PASSAGE_VECTORS, VECTORS, IndexCorruptError, IndexMismatchError, IndexWriteError, collect_garbage,
    current_generation, new_generation_dir, publish, read_manifest, rebuild_hint,
)

log = logging.getLogger(__name__)


class Store:
    """The small interface every backend offers: documents by id or row, dense and lexical search."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.index_dir = generation.parent.parent
        self.manifest = read_manifest(generation)
        self.database = _open_file(generation / DATABASE, Database)
        self.vectors = _open_file(generation / FAISS, vector_index.load)
        if self.vectors.ntotal != self.manifest["count"]:
            raise IndexCorruptError(f"{generation / FAISS} holds {self.vectors.ntotal} vectors, the manifest "
                                    f"says {self.manifest['count']}; {rebuild_hint(self.index_dir)}")

    @classmethod
    def open(cls, index_dir: str | Path, model: str | None = None) -> Store:
        """Open the current generation, refusing one built with another model than `model`."""
        store = cls(current_generation(Path(index_dir)))
        if model is not None and store.manifest["model"] != model:
            raise IndexMismatchError(
                f"{index_dir} was built with model {store.manifest['model']!r}, not {model!r}; "
                f"use --model {store.manifest['model']} or {rebuild_hint(Path(index_dir))}"
            )
        return store

    @property
    def model(self) -> str:
        """The model the vectors were made with."""
        return self.manifest["model"]

    def count(self) -> int:
        """Number of documents."""
        return int(self.manifest["count"])

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """id => Document for those that exist."""
        return self.database.by_ids(ids)

    def document(self, doc_id: str) -> Document | None:
        """One document, or None."""
        return self.database.by_ids([doc_id]).get(doc_id)

    def dense(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k nearest rows by cosine similarity, within `allowed` rows when given."""
        return vector_index.search(self.vectors, query, k, allowed)

    def stored_vectors(self) -> np.ndarray:
        """All document vectors, row-aligned: a flat index's own, else vectors.npy memory-mapped (once per store)."""
        vectors: np.ndarray | None = getattr(self, "_stored_vectors", None)
        if vectors is None:
            vectors = vector_index.exact_vectors(self.vectors)
            if vectors is None:
                vectors = np.load(self.generation / VECTORS, mmap_mode="r")
            self._stored_vectors = vectors
        return vectors

    def passages_of(self, doc_rows: Iterable[int]) -> dict[int, list[tuple[int, int, int]]]:
        """doc row => [(passage row, start, end)] in text order."""
        return self.database.passages_of(doc_rows)

    def passage_keys(self) -> dict[str, int]:
        """passage key => passage row, for reusing the vectors of unchanged passages."""
        return self.database.passage_keys()

    def passages(self, doc: Document) -> list[dict[str, Any]]:
        """A document's passages as spans {field: "text", start, end, text}."""
        return [{"field": "text", "start": start, "end": end, "text": (doc.text or "")[start:end]}
                for start, end in self.database.passages_by_id(doc.id)]

    def passage_vectors(self, rows: Iterable[int] | None = None) -> np.ndarray:
        """Passage vectors (float16, unit length) of the given passage rows, or all, memory-mapped once per store."""
        stored: np.ndarray | None = getattr(self, "_passage_vectors", None)
        if stored is None:
            path = self.generation / PASSAGE_VECTORS
            stored = np.load(path, mmap_mode="r") if path.is_file() else np.zeros((0, self.manifest["dimension"]),
                                                                                  dtype=np.float16)
            self._passage_vectors = stored
        return stored if rows is None else stored[np.asarray(list(rows), dtype=np.int64)]

    def stats(self) -> dict[str, Any]:
        """Counts, dates, sizes and the model, for `archive-qa stats` and /api/stats."""
        first, last = self.database.date_span()
        size = sum(p.stat().st_size for p in self.generation.iterdir())
        return {
            "documents": self.count(), "passages": int(self.manifest.get("passages", 0)),
            "model": self.model, "dimension": self.manifest["dimension"],
            "index_type": self.manifest["index_type"], "generation": self.generation.name,
            "created": self.manifest.get("created"), "first_date": first, "last_date": last,
            "bytes_on_disk": size,
        }

    def close(self) -> None:
        """Release this thread's database connection."""
        self.database.close()


def _open_file(path: Path, opener: Any) -> Any:
    """Open one index file, turning the many errors of a damaged file into one that names it."""
    try:
        return opener(path)
    except Exception as error:  # sqlite3 and FAISS raise several kinds on damaged files
        index_dir = path.parent.parent.parent
        hint = rebuild_hint(index_dir) if path.name != DATABASE else (
            f"the stored documents are lost: delete {index_dir} and run `archive-qa ingest FILE... --index "
            f"{index_dir}` with the original collection files")
        raise IndexCorruptError(f"{path} is damaged ({error}); {hint}") from None


def write_generation(index_dir: Path, documents: list[Document], vectors: np.ndarray, model: str,
                     index_kind: str = "auto", passages: dict[int, list[Passage]] | None = None,
                     passage_vectors: np.ndarray | None = None) -> Path:
    """Write documents, their row-aligned vectors and their passages as a new generation; publish it atomically.

    `passages` maps a document row to its passages; `passage_vectors` holds one row per passage in document
    row order. Anything that fails before the final rename leaves the published index untouched.
    """
    if len(documents) != len(vectors):
        raise ValueError(f"{len(documents)} documents but {len(vectors)} vectors")
    passages = passages or {}
    count = sum(len(found) for found in passages.values())
    if count != (0 if passage_vectors is None else len(passage_vectors)):
        raise ValueError(f"{count} passages but {0 if passage_vectors is None else len(passage_vectors)} vectors")
    tmp = new_generation_dir(index_dir)
    try:
        create(tmp / DATABASE, documents, passages)
        np.save(tmp / VECTORS, vectors)
        if passage_vectors is not None and len(passage_vectors):
            np.save(tmp / PASSAGE_VECTORS, passage_vectors.astype(np.float16))
        kind = vector_index.choose_kind(len(vectors)) if index_kind == "auto" else index_kind
        vector_index.save(vector_index.build(vectors, kind), tmp / FAISS)
        from datetime import datetime, timezone

        manifest = {"model": model, "dimension": int(vectors.shape[1]), "count": len(documents),
                    "index_type": kind, "passages": count,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        final = publish(index_dir, tmp, manifest)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(error, (OSError, sqlite3.Error, RuntimeError)):  # disk full, file too large, I/O
            raise IndexWriteError(f"writing a new generation of {index_dir} failed ({error}); nothing was "
                                  "published and the previous index is unchanged; free disk space and run "
                                  "the command again") from error
        raise
    collect_garbage(index_dir)
    return final
