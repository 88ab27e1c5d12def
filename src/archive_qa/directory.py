"""The people directory: who a name refers to, their other names, life dates and documents."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from .ranking.people import index_for

_COUNTS: dict[str, Counter[str]] = {}  # generation => documents per canonical person
_COUNTS_LOCK = threading.Lock()


def person(store: Any, name: str) -> dict[str, Any] | None:
    """The `Person` shape for a name as any document or aliases file writes it, or None when nobody has it."""
    index = index_for(store)
    canonical = index.canonical(name.strip()) if name and name.strip() else None
    if canonical is None:
        return None
    born, died = index.life.get(canonical, (None, None))
    return {"name": canonical, "aliases": sorted(index.forms.get(canonical, ())), "born": born, "died": died,
            "documents": person_counts(store)[canonical]}


def person_counts(store: Any) -> Counter[str]:
    """Documents per canonical person (by, to or naming them) in a store's generation, counted once and cached."""
    key = str(store.generation)
    with _COUNTS_LOCK:
        counts = _COUNTS.get(key)
    if counts is not None:
        return counts
    index = index_for(store)
    counts = Counter()
    for _, doc, _ in store.database.iter_documents():
        involved = index.involvement(doc)
        counts.update(involved.named | involved.authors)
    with _COUNTS_LOCK:
        _COUNTS[key] = counts
        while len(_COUNTS) > 2:  # older generations are gone after an ingest
            _COUNTS.pop(next(iter(_COUNTS)))
    return counts
