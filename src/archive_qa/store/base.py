"""The store protocol: what ranking, answers, facets and indexing need from a backend, and nothing more."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..documents import Document

Ranking = list[tuple[int, float]]  # (row, score) best first; a row is a document's place in one generation
T = TypeVar("T")


def person_key(name: str) -> str:
    """A name folded for matching: lower case, punctuation dropped."""
    return " ".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


@dataclass(frozen=True)
class Filters:
    """What a search is restricted to: a day range its placement overlaps, every person, any place, any region.

    Dates are ISO days; people are `person_key` forms; places and regions are names as given.
    """

    date_from: str | None = None
    date_to: str | None = None
    people_keys: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    @property
    def place_keys(self) -> tuple[str, ...]:
        """The places folded for matching, blanks dropped."""
        return tuple(key for key in map(person_key, self.places) if key)

    @property
    def region_keys(self) -> tuple[str, ...]:
        """The regions folded for matching, blanks dropped."""
        return tuple(key for key in map(person_key, self.regions) if key)

    def __bool__(self) -> bool:
        """Whether anything is filtered at all."""
        return bool(self.date_from or self.date_to or self.people_keys or self.place_keys or self.region_keys)


@runtime_checkable
class StoreReader(Protocol):
    """One published generation of a collection, read-only: documents, dense and lexical search, statistics."""

    @property
    def generation_id(self) -> str:
        """Names the generation; a new one on every publish."""

    @property
    def model(self) -> str:
        """The embedding model the vectors were made with."""

    @property
    def has_regions(self) -> bool:
        """Whether documents carry places and regions (generations written before them do not)."""

    def count(self) -> int:
        """Number of documents."""

    def document(self, doc_id: str) -> Document | None:
        """One document by id, or None."""

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """id => Document for the ids that exist."""

    def by_rows(self, rows: Iterable[int]) -> dict[int, Document]:
        """row => Document for the rows given."""

    def ranked(self, rows: list[int], chunk: int) -> Mapping[int, Document]:
        """The documents of ranked rows, read `chunk` rows at a time as the ranking is walked."""

    def iter_documents(self) -> Iterator[tuple[int, Document, str]]:
        """(row, Document, embed_key) for every document in row order."""

    def filter_rows(self, filters: Filters) -> np.ndarray:
        """The rows inside the filters, as int64."""

    def dense(self, query: np.ndarray, k: int, filters: Filters | None = None) -> Ranking:
        """The k nearest rows by cosine similarity, inside the filters."""

    def lexical(self, phrases: Sequence[str], k: int, weights: Sequence[float], filters: Filters | None = None,
                head: bool = False) -> Ranking:
        """BM25 of documents matching any phrase, inside the filters; higher is better.

        weights: per field, title, summary, text, people (head: title, summary, people, with lengths
        taken over those fields alone).
        """

    @property
    def has_head_index(self) -> bool:
        """Whether `lexical(..., head=True)` is available."""

    @property
    def quick_lexical(self) -> bool:
        """Whether BM25 answers in about a millisecond (too little to hide the question encoder behind)."""

    @property
    def in_process(self) -> bool:
        """Whether a search is this process's own work alone (local files), never a wait on a server."""

    @property
    def with_text(self) -> frozenset[int]:
        """Rows whose record has full text."""

    @property
    def all_have_text(self) -> bool:
        """Whether every record has full text."""

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored unit vectors of `rows`, in that order, as float32."""

    def passages_of(self, doc_rows: Iterable[int]) -> dict[int, list[tuple[int, int, int]]]:
        """doc row => [(passage row, start, end)] in text order."""

    def passage_keys(self) -> dict[str, int]:
        """passage key => passage row, for reusing the vectors of unchanged passages."""

    def passages(self, doc: Document) -> list[dict[str, Any]]:
        """A document's passages as spans {field: "text", start, end, text}."""

    def passage_vectors(self, rows: Iterable[int] | None = None) -> np.ndarray:
        """Passage vectors (unit length) of the given passage rows, or all."""

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many documents hold each word (any field); words the engine refuses are left out."""

    def words_in(self, words: Sequence[str], rows: Sequence[int]) -> dict[str, bool]:
        """Whether each word occurs in at least one of `rows`; words the engine refuses are left out."""

    def people_records(self) -> Iterable[tuple[Any, str | None, str | None]]:
        """(people, title, summary) of every document, for the people index (people: a list or its JSON)."""

    def people_directories(self) -> list[Any]:
        """Directories beside the collection that may hold people files."""

    def date_span(self) -> tuple[str | None, str | None]:
        """The earliest and latest placement dates."""

    def stats(self) -> dict[str, Any]:
        """Counts, dates, sizes and the model, for `archive-qa stats` and /api/stats."""

    def cached(self, name: str, build: Callable[[], T]) -> T:
        """A value computed once per generation (people index, facets, counts), built by `build`."""

    def close(self) -> None:
        """Release this thread's connections."""


class StoreWriter(Protocol):
    """Builds a new generation from documents and row-aligned vectors and publishes it whole, or not at all."""

    def lock(self, wait: bool = True) -> AbstractContextManager[None]:
        """Hold the store's single-writer lock (another ingest waits, or fails when wait is False)."""

    def publish(self, documents: list[Document], vectors: np.ndarray, model: str, index_kind: str = "auto",
                passages: dict[int, list[Any]] | None = None, passage_vectors: np.ndarray | None = None) -> str:
        """Write and publish a generation; returns its id. Readers see the old one or the new one, never half.

        passages: document row => its Passages; passage_vectors: theirs, in document row order, then text order.
        """


class GenerationCache:
    """Values computed once per generation, kept on the store object so they go with it."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._building: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, name: str, build: Callable[[], T]) -> T:
        """The value named `name`, built by one thread while the others wait for it."""
        with self._lock:
            if name in self._values:
                return self._values[name]
            building = self._building.setdefault(name, threading.Lock())
        with building:
            with self._lock:
                if name in self._values:
                    return self._values[name]
            value = build()
            with self._lock:
                self._values[name] = value
            return value
