"""Search: run the ranking pipeline (ranking/pipeline.py) for a request and shape the response."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from . import evidence
from .citations import citation
from .dates import PartialDate
from .embedding import Embedder
from .ranking import pipeline
from .ranking.question import Reading
from .store import Store

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")


@dataclass
class SearchRequest:
    """A question and its explicit filters; `interpret` reads dates and people from the question too.

    `skip` names pipeline stages to leave out, for ablations ("feedback", "people").
    """

    query: str
    k: int = 10
    date_from: PartialDate | None = None
    date_to: PartialDate | None = None
    people: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    mode: str = "hybrid"
    interpret: bool = True
    skip: frozenset[str] = frozenset()


def search(store: Store, embedder: Embedder, request: SearchRequest) -> dict[str, Any]:
    """The response shared by the API, the CLI and the Python call."""
    # With slow BM25 to run (FTS5 alone, or a database server), the question is encoded on another core
    # meanwhile (hybrid 31 -> 21 ms a new FRUS question on FTS5). Dense-only, or BM25 from term postings,
    # has too little work to cover the hand-over: it encodes in line (hybrid p50 equal, 2 ms less CPU).
    overlap = request.mode in ("hybrid", "lexical") and not store.quick_lexical
    c = pipeline.Candidates(store, pipeline.Request(request.query, request.k, request.date_from, request.date_to,
                                                    request.people, request.mode, request.interpret,
                                                    frozenset(request.skip), request.places, request.regions))
    if overlap:
        c.pending_vector = embedder.encode_query_soon(request.query)
    else:
        c.query_vector = embedder.encode_query(request.query)
    pipeline.run(c)
    ranked = [(row, c.documents[row]) for row, _ in c.kept]
    spans = evidence.collect(store, request.query, c.vector() if ranked else None, ranked)
    results = []
    for row, score in c.kept:
        doc = c.documents[row]
        best = spans.get(doc.id, [])
        results.append({**doc.to_dict(), "score": round(float(score), 6), "citation": citation(doc),
                        "duplicates": [c.documents[other].id for other in c.dupes.get(row, ())],
                        "evidence": [span.to_dict() for span in best],
                        "snippet": evidence.snippet(doc, best[0], request.query) if best else None})
    verdict = c.verdict
    return {
        "query": request.query,
        "mode": request.mode,
        "filters": {"date_from": c.date_from if not c.period_applied else None,
                    "date_to": c.date_to if not c.period_applied else None, "people": request.people,
                    "places": request.places, "regions": request.regions},
        "interpreted": _interpreted(c.reading, c.period_applied, c.date_from, c.date_to, c.browse, c.read_regions),
        "answerable": verdict.answerable,
        "confidence": verdict.confidence,
        "coverage": verdict.coverage,
        "abstain_reason": verdict.reason,
        "results": results,
    }


def _interpreted(reading: Reading | None, period_applied: bool, date_from: str | None,
                 date_to: str | None, browse: bool, regions: list[str]) -> dict[str, Any]:
    """How the question was read, and whether that reading shaped the results."""
    if reading is None:
        return {"date_from": None, "date_to": None, "date_phrase": None, "loose": False, "people": [],
                "author": None, "applied": False, "browse": False, "regions": [], "date_overridden_by": None,
                "follow_up": None}
    described = reading.describe(applied=bool(period_applied or reading.people or reading.author or regions))
    described["browse"] = browse
    described["regions"] = regions
    overridden = not period_applied and reading.period
    described["date_overridden_by"] = {"date_from": date_from, "date_to": date_to} if overridden else None
    described["follow_up"] = None
    return described
