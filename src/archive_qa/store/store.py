"""One published generation of an index, opened for reading: documents, full text and vectors."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..documents import Document
from ..passages import Passage
from . import vectors as vector_index
from .base import Filters, GenerationCache, Ranking
from .database import Database, create
from .phrase_scores import PhraseScores
from .term_postings import Scores, TermPostings, write as write_postings
from .layout import (
    DATABASE, FAISS, PASSAGE_VECTORS, VECTORS, IndexCorruptError, IndexMismatchError, IndexWriteError, collect_garbage,
    current_generation, latest_database, new_generation_dir, publish, read_manifest, rebuild_hint, writer_lock,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
FREQUENCY_CACHE = 16384  # words whose document frequency one generation remembers; least recent dropped
FILTER_CACHE = 64  # filters whose rows one generation remembers (a question asks for them more than once)
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)  # a damaged page found only when read


class Store:
    """The embedded backend (a `StoreReader`): one generation's SQLite file and FAISS index in a directory."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.index_dir = generation.parent.parent
        self.manifest = read_manifest(generation)
        self.database = _open_file(generation / DATABASE, Database)
        self.vectors = _open_file(generation / FAISS, vector_index.load)
        if self.vectors.ntotal != self.manifest["count"]:
            raise IndexCorruptError(f"{generation / FAISS} holds {self.vectors.ntotal} vectors, the manifest "
                                    f"says {self.manifest['count']}; {rebuild_hint(self.index_dir)}")
        self._cache = GenerationCache()
        self._lock = threading.Lock()
        self._frequencies: OrderedDict[str, int] = OrderedDict()
        self._filtered: OrderedDict[Filters, np.ndarray] = OrderedDict()

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

    @property
    def generation_id(self) -> str:
        """The generation directory's name."""
        return self.generation.name

    @property
    def has_regions(self) -> bool:
        """Whether documents carry places and regions (generations written before them do not)."""
        return self.database.has_regions

    @property
    def has_head_index(self) -> bool:
        """Whether this generation has the head-only full-text index."""
        return self.database.has_head_index

    @property
    def with_text(self) -> frozenset[int]:
        """Rows whose record has full text."""
        return self.database.with_text

    @property
    def all_have_text(self) -> bool:
        """Whether every record has full text."""
        return self.database.all_have_text

    def by_rows(self, rows: Iterable[int]) -> dict[int, Document]:
        """row => Document."""
        return self.database.by_rows(rows)

    def ranked(self, rows: list[int], chunk: int) -> Mapping[int, Document]:
        """The documents of ranked rows, read `chunk` rows at a time as the ranking is walked."""
        return self.database.ranked(rows, chunk)

    def iter_documents(self) -> Iterator[tuple[int, Document, str]]:
        """(row, Document, embed_key) for every document in row order."""
        return self.database.iter_documents()

    def filter_rows(self, filters: Filters) -> np.ndarray:
        """The rows inside the filters (remembered: a question asks for them for each ranker)."""
        with self._lock:
            rows = self._filtered.get(filters)
        if rows is None:
            rows = np.array(self.database.filter_rows(filters.date_from, filters.date_to, list(filters.people_keys),
                                                      list(filters.places), list(filters.regions)), dtype=np.int64)
            rows.setflags(write=False)
            with self._lock:
                self._filtered[filters] = rows
                while len(self._filtered) > FILTER_CACHE:
                    self._filtered.popitem(last=False)
        return rows

    def dense(self, query: np.ndarray, k: int, filters: Filters | None = None) -> Ranking:
        """The k nearest rows by cosine similarity, inside the filters."""
        allowed = self.filter_rows(filters) if filters else None
        return vector_index.search(self.vectors, query, k, allowed)

    def lexical(self, phrases: Sequence[str], k: int, weights: Sequence[float], filters: Filters | None = None,
                head: bool = False) -> Ranking:
        """FTS5 BM25 of documents matching any phrase, inside the filters (head: over fts_head).

        The sum of each phrase's BM25 asked alone (phrase_scores.py: the same scores as the OR query), so
        the words earlier questions asked cost nothing the next time.
        """
        allowed = self.filter_rows(filters) if filters else None
        return self.phrase_scores.rank("fts_head" if head else "fts", phrases, k, weights, allowed)

    @property
    def phrase_scores(self) -> PhraseScores:
        """This generation's per-phrase BM25 cache."""
        return self.cached("phrase_scores", lambda: PhraseScores(self._phrase_scores, self.database.max_row() + 1))

    @property
    def quick_lexical(self) -> bool:
        """With term postings: a new word costs ~0.2 ms, not FTS5's ~2."""
        return self.term_postings is not None

    @property
    def in_process(self) -> bool:
        """Always: SQLite, FAISS and the postings are files this process reads itself."""
        return True

    @property
    def term_postings(self) -> TermPostings | None:
        """This generation's term postings, None for a generation written before them."""
        return self.cached("term_postings", self._open_postings)

    def _open_postings(self) -> TermPostings | None:
        """The postings, or None (FTS5 answers alone) when they are missing or cannot be read."""
        try:
            return TermPostings.open(self.generation)
        except (OSError, ValueError, KeyError, IndexError) as error:
            log.warning("the term postings of %s cannot be read (%s); FTS5 ranks alone, as fast as before them; "
                        "`archive-qa check` verifies the index", self.generation, error)
            return None

    def _phrase_scores(self, table: str, phrase: str, weights: tuple[float, ...]) -> Scores:
        """One phrase's matching rows (ascending) and BM25: from the term postings, else asked of FTS5."""
        postings = self.term_postings
        found = postings.scores(table, phrase, weights) if postings is not None else None
        if found is not None:
            return found
        pairs = self.database.phrase_scores(table, phrase, weights)
        rows = np.fromiter((row for row, _ in pairs), dtype=np.int32, count=len(pairs))
        scores = np.fromiter((score for _, score in pairs), dtype=np.float64, count=len(pairs))
        order = np.argsort(rows, kind="stable")
        return rows[order], scores[order]

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of `rows`, in that order, as float32 (read in row order from the file)."""
        stored = self.stored_vectors()
        order = np.argsort(rows)
        picked = np.empty((len(rows), stored.shape[1]), dtype=np.float32)
        picked[order] = stored[np.asarray(rows, dtype=np.int64)[order]]
        return picked

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many documents hold each word: remembered per generation, the rest asked in one statement."""
        with self._lock:
            known = {w: self._frequencies[w] for w in words if w in self._frequencies}
            for word in known:
                self._frequencies.move_to_end(word)
        asked = [w for w in dict.fromkeys(words) if w not in known]
        postings = self.term_postings
        if asked and postings is not None:
            counted = {word: postings.frequency(word) for word in asked}
            known.update({word: count for word, count in counted.items() if count is not None})
            asked = [word for word, count in counted.items() if count is None]
        if asked:
            try:
                counts = self.database.document_frequencies(asked)
            except sqlite3.OperationalError:  # one word FTS5 refuses: ask word by word, leaving that one out
                counts, _ = self.database.word_by_word(asked, [])
            with self._lock:
                for word, count in counts.items():
                    known[word] = self._frequencies[word] = count
                while len(self._frequencies) > FREQUENCY_CACHE:
                    self._frequencies.popitem(last=False)
        return known

    def words_in(self, words: Sequence[str], rows: Sequence[int]) -> dict[str, bool]:
        """Whether each word occurs in at least one of `rows`; words FTS5 refuses are left out."""
        unique = list(dict.fromkeys(words))
        found: dict[str, bool] = {}
        postings = self.term_postings
        if postings is not None:
            hits = {word: postings.occurs(word, rows) for word in unique}
            found = {word: hit for word, hit in hits.items() if hit is not None}
            unique = [word for word in unique if word not in found]
        if not unique:
            return found
        try:
            return found | self.database.words_in(unique, rows)
        except sqlite3.OperationalError:
            return found | self.database.word_by_word(unique, [int(row) for row in rows])[1]

    def people_records(self) -> Iterable[tuple[Any, str | None, str | None]]:
        """(people as JSON, title, summary) of every document."""
        return self.database.people_records()

    def people_directories(self) -> list[Path]:
        """The index directory, which may hold people files beside the generations."""
        return [self.index_dir]

    def date_span(self) -> tuple[str | None, str | None]:
        """The earliest and latest placement dates."""
        return self.database.date_span()

    def cached(self, name: str, build: Callable[[], T]) -> T:
        """A value computed once for this generation; it goes when the store does."""
        return self._cache.get(name, build)

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
        log.info("writing the term postings of %d document(s)", len(documents))
        write_postings(tmp, documents, tmp / DATABASE)
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


class EmbeddedWriter:
    """The embedded backend's `StoreWriter`: a new generation directory, published by renaming CURRENT."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)

    def lock(self, wait: bool = True) -> AbstractContextManager[None]:
        """The index directory's single-writer lock."""
        return writer_lock(self.index_dir, wait)

    def publish(self, documents: list[Document], vectors: np.ndarray, model: str, index_kind: str = "auto",
                passages: dict[int, list[Passage]] | None = None, passage_vectors: np.ndarray | None = None) -> str:
        """Write and publish a generation; returns its name."""
        return write_generation(self.index_dir, documents, vectors, model, index_kind, passages, passage_vectors).name


def stored_documents(index_dir: Path) -> list[Document]:
    """Every document of the current generation (else the newest on disk), for a reindex that rebuilds from them."""
    path = latest_database(index_dir)  # falls back to the newest generation when CURRENT is damaged
    try:
        database = Database(path)
        documents = [doc for _, doc, _ in database.iter_documents()]
        database.close()
    except (sqlite3.Error, ValueError) as error:
        raise IndexCorruptError(f"{path} is damaged ({error}), so reindex cannot rebuild from it; delete "
                                f"{index_dir} and run `archive-qa ingest FILE... --index {index_dir}` "
                                "with the original collection files") from None
    return documents
