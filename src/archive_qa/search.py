"""Search: read the question, run dense and lexical retrieval inside the filters, fuse, return results."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .citations import citation
from .dates import PartialDate
from .embedding import Embedder
from .ranking import fusion, lexical
from .store import Store
from .store.database import filter_sql, person_key

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")
CANDIDATES = 100  # per ranker, before fusion


@dataclass
class SearchRequest:
    """A question and its explicit filters."""

    query: str
    k: int = 10
    date_from: PartialDate | None = None
    date_to: PartialDate | None = None
    people: list[str] = field(default_factory=list)
    mode: str = "hybrid"


def search(store: Store, embedder: Embedder, request: SearchRequest) -> dict[str, Any]:
    """The response shared by the API, the CLI and the Python call."""
    date_from = request.date_from.start.isoformat() if request.date_from else None
    date_to = request.date_to.end.isoformat() if request.date_to else None
    keys = [person_key(p) for p in request.people if person_key(p)]
    clauses, params = filter_sql(date_from, date_to, keys)
    allowed = None
    if clauses:
        allowed = np.array(store.database.filter_rows(date_from, date_to, keys), dtype=np.int64)
    depth = max(CANDIDATES, request.k)
    rankings = []
    if request.mode in ("hybrid", "dense") and (allowed is None or len(allowed)):
        rankings.append((store.dense(embedder.encode_query(request.query), depth, allowed), 1.0))
    if request.mode in ("hybrid", "lexical"):
        rankings.append((lexical.search(store, request.query, depth, clauses, params), 1.0))
    ranked = rankings[0][0] if len(rankings) == 1 else fusion.reciprocal_rank(rankings)
    top = ranked[: request.k]
    documents = store.database.by_rows(row for row, _ in top)
    results = []
    for row, score in top:
        doc = documents[row]
        results.append({**doc.to_dict(), "score": round(float(score), 6), "citation": citation(doc)})
    return {
        "query": request.query,
        "mode": request.mode,
        "filters": {"date_from": date_from, "date_to": date_to, "people": request.people},
        "results": results,
    }
