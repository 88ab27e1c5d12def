"""The people directory: who a name refers to, their other names, life dates and documents."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from . import urls
from .documents import Document
from .ranking.people import PeopleIndex, index_for
from .store.base import StoreReader

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Entry:
    """One document of a person's page: what its row shows and where it sorts."""

    id: str
    date: str | None
    date_display: str
    label: str
    year: int | None
    order: str  # the placement's first day (ISO), "9999" when undated: oldest first, undated last

    def to_dict(self) -> dict[str, Any]:
        """The `PersonDocument` shape."""
        return {"id": self.id, "date": self.date, "date_display": self.date_display, "label": self.label,
                "year": self.year, "url": urls.document_page(self.id)}


def person(store: Any, name: str) -> dict[str, Any] | None:
    """The `Person` shape for a name as any document or aliases file writes it, or None when nobody has it."""
    index = index_for(store)
    canonical = index.canonical(name.strip()) if name and name.strip() else None
    if canonical is None:
        return None
    born, died = index.life.get(canonical, (None, None))
    entries = person_rows(store).get(canonical, ())
    return {"name": canonical, "aliases": sorted(index.forms.get(canonical, ())), "born": born, "died": died,
            "documents": len(entries), "other_names": other_names(index, canonical),
            "timeline": timeline(entries), "undated": sum(1 for e in entries if e.year is None),
            "items": [e.to_dict() for e in entries], "page": urls.person_page(canonical)}


def other_names(index: PeopleIndex, canonical: str) -> list[str]:
    """The person's other names as an aliases file writes them, else their folded keys, without the name itself."""
    written = [n for n in index.written.get(canonical, ()) if n != canonical]
    if written:
        return written
    own = " ".join(canonical.lower().split())
    return sorted(k for k in index.forms.get(canonical, ()) if k != own)


def timeline(entries: tuple[Entry, ...]) -> list[dict[str, int]]:
    """Documents per year, earliest year first; undated documents are left out (the `undated` count)."""
    years = Counter(e.year for e in entries if e.year is not None)
    return [{"year": year, "count": years[year]} for year in sorted(years)]


def person_counts(store: StoreReader) -> Counter[str]:
    """Documents per canonical person (by, to or naming them) in a store's generation, counted once and cached."""
    return Counter({name: len(entries) for name, entries in person_rows(store).items()})


def person_rows(store: StoreReader) -> dict[str, tuple[Entry, ...]]:
    """Each canonical person's documents (by, to or naming them), oldest first; built once per generation."""
    return store.cached("person rows", lambda: _build_rows(store))


def _build_rows(store: StoreReader) -> dict[str, tuple[Entry, ...]]:
    """One pass over a generation's documents: who each is by, to or about."""
    index = index_for(store)
    found: dict[str, list[Entry]] = {}
    for _, doc, _ in store.iter_documents():
        involved = index.involvement(doc)
        people = involved.named | involved.authors
        if people:
            entry = _entry(doc)
            for name in people:
                found.setdefault(name, []).append(entry)
    log.info("people directory: %d people over the documents of %s", len(found), store.generation_id)
    return {name: tuple(sorted(entries, key=lambda e: (e.order, e.id))) for name, entries in found.items()}


def _entry(doc: Document) -> Entry:
    """A document's row on a person's page."""
    placed = doc.placement
    return Entry(doc.id, doc.date.iso if doc.date else None, doc.date_display, doc.label(),
                 placed.start.year if placed else None, placed.start.isoformat() if placed else "9999")
