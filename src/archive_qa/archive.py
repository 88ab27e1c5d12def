"""The Python entry point: open an index and search it; picks up newly published generations."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import settings
from .dates import PartialDate, parse_date
from .documents import Document
from .embedding import Embedder, get_embedder
from .search import MODES, SearchRequest, search
from .store import Store, StoreReader, open_store
from .store.factory import store_url
from .store.layout import CURRENT, IndexError_

log = logging.getLogger(__name__)
SERVER_CHECK_S = 1.0  # how often a server's store is asked whether a newer generation is published


class Archive:
    """A searchable index directory.

    Example:
        >>> archive = open_index("index")
        >>> archive.search("what did Stalin say about neutral countries?", k=5)["results"][0]["date"]
        '1951-08-28'
    """

    def __init__(self, index_dir: str | Path, model: str | None = None, device: str | None = None,
                 store: str | None = None, replicas: Sequence[str] = ()) -> None:
        self.index_dir = Path(index_dir)
        self._current = str(self.index_dir / CURRENT)
        self.url = store_url(store)  # a server's store (else the index directory's)
        self._lock = threading.Lock()
        self._checked = 0.0
        if self.url is None:
            # the stamp before opening: a generation published in between is then picked up on the next access
            self._pointer: bytes | None = self._pointer_stamp()
            self._store: StoreReader = Store.open(self.index_dir, model)
        else:
            self._store = open_store(None, self.url, model, replicas)
            self._pointer = self._store.generation_id.encode()
        self.embedder: Embedder = get_embedder(self._store.model, device or settings.get("device"))

    @property
    def store(self) -> StoreReader:
        """The current generation, reopened when an ingest has published a newer one.

        A request holds on to the Store it got, so it sees one generation from start to end. When the new
        generation cannot be opened (damaged, or CURRENT removed), the one already open keeps answering and
        the error is logged once per change of CURRENT.
        """
        stamp = self._pointer_stamp()
        if stamp != self._pointer:
            with self._lock:
                if stamp != self._pointer:
                    try:
                        fresh = self._reopen()
                    except IndexError_ as error:
                        log.error("still serving generation %s: %s", self._store.generation_id, error)
                        self._pointer = stamp
                        return self._store
                    log.info("switched to generation %s", fresh.generation_id)
                    self._store, self._pointer = fresh, stamp
        return self._store

    def _reopen(self) -> StoreReader:
        """The store of the generation published now."""
        if self.url is None:
            return Store.open(self.index_dir, self._store.model)
        return self._store.reopen()  # type: ignore[attr-defined]  # PostgresStore: same connections

    def _pointer_stamp(self) -> bytes | None:
        """What CURRENT says (a few bytes, cheap enough to read on every request); a server is asked each second.

        Its content, not its inode and mtime: a reused inode and a coarse clock tick could make two
        publishes look alike.
        """
        if self.url is not None:
            now = time.monotonic()
            if now - self._checked < SERVER_CHECK_S:
                return self._pointer
            self._checked = now
            try:
                published = self._store.published_id()  # type: ignore[attr-defined]
            except IndexError_ as error:  # no server answers: keep serving what is open, requests report errors
                log.error("cannot ask the servers for the published generation: %s", error)
                return self._pointer
            return published.encode() if published else self._pointer
        try:  # os.read, not Path.read_bytes: 1 µs against 6, twice a request
            descriptor = os.open(self._current, os.O_RDONLY)
        except OSError:
            return None
        try:
            chunks = [os.read(descriptor, 4096)]
            while chunks[-1]:
                chunks.append(os.read(descriptor, 4096))
            return b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(descriptor)

    def search(self, query: str, k: int = 10, date_from: str | PartialDate | None = None,
               date_to: str | PartialDate | None = None, person: str | list[str] | None = None,
               mode: str = "hybrid", interpret: bool = True, skip: frozenset[str] = frozenset(),
               place: str | list[str] | None = None, region: str | list[str] | None = None) -> dict[str, Any]:
        """Rank documents for a question; dates accept any form `parse_date` reads.

        `interpret` reads a period and people from the question ("in July 1951", "what did Stalin say");
        explicit dates always win over the question's period, and explicit regions over the question's.
        `place` and `region` keep documents at any of the places / in any of the regions given. `skip` leaves
        pipeline stages out ("feedback", "people"), for ablations.
        """
        if not query or not query.strip():
            raise ValueError("query: must not be empty")
        if mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}")
        request = SearchRequest(query=query.strip(), k=k, date_from=_date(date_from), date_to=_date(date_to),
                                people=_listed(person), places=_listed(place), regions=_listed(region),
                                mode=mode, interpret=interpret, skip=frozenset(skip))
        return search(self.store, self.embedder, request)

    def ask(self, question: str, history: list[dict[str, Any]] | None = None, **filters: Any) -> dict[str, Any]:
        """Answer from the documents, every sentence cited; follow-ups are read against `history`.

        Filters: k, date_from, date_to, person, place, sort ("relevance" or "date"), interpret, generate.
        """
        from .conversation import ask

        if not question or not question.strip():
            raise ValueError("question: must not be empty")
        return ask(self, question.strip(), history, **filters)

    def document(self, doc_id: str) -> Document | None:
        """One document by id, or None."""
        return self.store.document(doc_id)

    def document_json(self, doc_id: str) -> dict[str, Any] | None:
        """One whole document with its citations (the `Document` shape), or None."""
        from .citations import with_citations

        store = self.store
        doc = store.document(doc_id)
        return None if doc is None else with_citations(doc, store.passages(doc))

    def person(self, name: str) -> dict[str, Any] | None:
        """Who a name refers to (the `Person` shape), or None when no person of this archive has it."""
        from .directory import person

        return person(self.store, name)

    def stats(self) -> dict[str, Any]:
        """Counts, date span, sizes and model."""
        return self.store.stats()


def open_index(index_dir: str | Path | None = None, model: str | None = None, device: str | None = None) -> Archive:
    """Open an index directory for searching (default: the ARCHIVE_QA_INDEX setting)."""
    return Archive(index_dir or settings.get("index_dir"), model, device)


def _listed(value: str | list[str] | None) -> list[str]:
    """One name or several, blanks dropped."""
    values = [value] if isinstance(value, str) else list(value or [])
    return [v.strip() for v in values if v and v.strip()]


def _date(value: str | PartialDate | None) -> PartialDate | None:
    """A PartialDate from a string or itself."""
    if value is None or isinstance(value, PartialDate):
        return value
    return parse_date(value) if value.strip() else None
