"""Facets for the page's filters and /api/facets: people (with life dates), places, regions, years, with counts."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .documents import Document
from .ranking.people import index_for
from .store.base import StoreReader

log = logging.getLogger(__name__)

LIMIT = 40  # values listed per facet



@dataclass(frozen=True)
class Facet:
    """One value of a facet and how many documents have it."""

    value: str
    count: int
    born: int | None = None
    died: int | None = None

    @property
    def label(self) -> str:
        """"Joseph Stalin (1879–1953)" where life dates are known, else the value."""
        if self.born or self.died:
            return f"{self.value} ({self.born or '?'}–{self.died or ''})"
        return self.value


@dataclass(frozen=True)
class Facets:
    """The filters a page offers over one generation."""

    people: list[Facet]
    places: list[Facet]
    first_date: str | None
    last_date: str | None
    documents: int
    regions: list[Facet] = field(default_factory=list)
    years: list[Facet] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of /api/facets."""
        def listed(facets: list[Facet]) -> list[dict[str, Any]]:
            return [{"value": f.value, "count": f.count, "born": f.born, "died": f.died} for f in facets]

        return {"documents": self.documents, "first_date": self.first_date, "last_date": self.last_date,
                "years": listed(self.years), "regions": listed(self.regions), "people": listed(self.people),
                "places": listed(self.places)}


def places_of(doc: Document | dict[str, Any]) -> list[str]:
    """A document's places: its `places` list and a dateline `place` kept among the extra fields."""
    if isinstance(doc, Document):
        places, extra = list(doc.places), doc.extra
    else:
        places, extra = list(doc.get("places") or []), doc.get("metadata") or {}
    place = extra.get("place")
    if isinstance(place, str) and place.strip() and place.strip() not in places:
        places.append(place.strip())
    return places


def people_of(doc: Document, store: StoreReader) -> set[str]:
    """The canonical people a document is by, to or about, as the ranking's people index reads it."""
    return set(index_for(store).involvement(doc).named)


def listed_people(doc: Document, store: StoreReader) -> set[str]:
    """People worth a facet: those of the people files (with life dates) and the record's own `people`.

    Names read from titles alone ("Secretary of State") are left out of the facet, not out of the search.
    """
    named = people_of(doc, store)
    index = index_for(store)
    own = {index.canonical(name) or name for name in doc.people}
    return {p for p in named if p in index.life} | (own & named if named else own)


def for_store(store: StoreReader) -> Facets:
    """The facets of a store's generation, computed once (one thread computes, the others wait) and kept on it."""
    return store.cached("facets", lambda: _compute(store))


def warm(store: StoreReader) -> threading.Thread:
    """Compute a store's facets in the background (the first page then need not wait)."""
    def run() -> None:
        try:
            for_store(store)
        except Exception as error:  # a damaged database: the page shows no facets, requests report it
            log.error("facets of %s could not be counted: %s", store.generation_id, error)

    thread = threading.Thread(target=run, name="facets", daemon=True)
    thread.start()
    return thread


def count(store: StoreReader, documents: Iterable[Document]) -> Facets:
    """People, places, regions and years counted over some documents (a question's results, or all)."""
    people: Counter[str] = Counter()
    places: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    years: Counter[str] = Counter()
    total = 0
    for doc in documents:
        total += 1
        people.update(listed_people(doc, store))
        places.update(places_of(doc))
        regions.update(doc.regions)
        placement = doc.placement
        if placement and placement.start:
            years[str(placement.start.year)] += 1
    life = _life_dates(store)
    dates = sorted(years)
    return Facets(
        people=[Facet(name, n, *life.get(name, (None, None))) for name, n in people.most_common(LIMIT)],
        places=[Facet(name, n) for name, n in places.most_common(LIMIT)],
        first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None, documents=total,
        regions=[Facet(name, n) for name, n in regions.most_common()],
        years=[Facet(year, years[year]) for year in dates],
    )


def _compute(store: StoreReader) -> Facets:
    """Count people, places, regions and years over every document of a generation."""
    counted = count(store, (doc for _, doc, _ in store.iter_documents()))
    first, last = store.date_span()
    facets = Facets(people=counted.people, places=counted.places, first_date=first, last_date=last,
                    documents=counted.documents, regions=counted.regions, years=counted.years)
    log.info("facets: %d people, %d places, %d regions", len(facets.people), len(facets.places),
             len(facets.regions))
    return facets


def _life_dates(store: StoreReader) -> dict[str, tuple[int | None, int | None]]:
    """Canonical name => (born, died) from the people files."""
    return dict(index_for(store).life)
