"""Search: read the question, run dense and lexical retrieval inside the filters, fuse, return results."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .citations import citation
from .dates import PartialDate
from .documents import Document
from .embedding import Embedder
from .ranking import abstention, duplicates, fusion, lexical
from .ranking.people import PeopleIndex, index_for, tokens
from .ranking.question import Reading, read_question
from .store import Store
from .store.database import filter_sql, person_key

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")
CANDIDATES = 100  # per ranker, before fusion
PEOPLE_DEPTH = 50  # fused candidates whose authors and names are read for the people boosts


@dataclass
class SearchRequest:
    """A question and its explicit filters; `interpret` reads dates and people from the question too."""

    query: str
    k: int = 10
    date_from: PartialDate | None = None
    date_to: PartialDate | None = None
    people: list[str] = field(default_factory=list)
    mode: str = "hybrid"
    interpret: bool = True


def _bounds(request: SearchRequest, reading: Reading | None) -> tuple[str | None, str | None, bool]:
    """The date range to filter on: explicit dates win; else the question's period. Also whether it was read."""
    if request.date_from or request.date_to:
        return (request.date_from.start.isoformat() if request.date_from else None,
                request.date_to.end.isoformat() if request.date_to else None, False)
    if reading and reading.period:
        period = reading.period.padded()
        return (period.start.isoformat() if period.start else None,
                period.end.isoformat() if period.end else None, True)
    return None, None, False


def search(store: Store, embedder: Embedder, request: SearchRequest) -> dict[str, Any]:
    """The response shared by the API, the CLI and the Python call."""
    # With BM25 to run, the question is encoded on another core meanwhile (hybrid 31 -> 21 ms a new FRUS
    # question); dense-only has too little SQLite work to cover the hand-over, so it encodes in line.
    overlap = request.mode in ("hybrid", "lexical")
    pending_vector = embedder.encode_query_soon(request.query) if overlap else None
    people_index = index_for(store)
    reading = read_question(request.query, people_index) if request.interpret else None
    date_from, date_to, period_applied = _bounds(request, reading)
    keys = [person_key(p) for p in request.people if person_key(p)]
    clauses, params = filter_sql(date_from, date_to, keys)
    allowed = None
    if clauses:
        allowed = np.array(store.database.filter_rows(date_from, date_to, keys), dtype=np.int64)
    depth = max(CANDIDATES, request.k * 2)
    topic = reading.topic if reading and period_applied else request.query
    empty = allowed is not None and not len(allowed)

    lexical_ranking: list[tuple[int, float]] = []
    if not empty and request.mode in ("hybrid", "lexical"):
        words = lexical.terms(topic)
        if reading:
            words += _other_names(request.query, reading, people_index)
        lexical_ranking = (store.database.lexical(lexical.match_expression(words), depth, lexical.FIELD_WEIGHTS,
                                                  clauses, params) if words else [])
    if overlap and not empty:
        abstention.prefetch(store, lexical.terms(topic))  # the verdict's word frequencies, still while encoding
    query_vector = pending_vector.result() if pending_vector else embedder.encode_query(request.query)
    dense: list[tuple[int, float]] = []
    if not empty and request.mode in ("hybrid", "dense"):
        dense = store.dense(query_vector, depth, allowed)

    if request.mode == "dense":
        ranked = dense
    elif request.mode == "lexical":
        ranked = lexical_ranking
    else:
        ranked = fusion.fuse(store, query_vector, dense, lexical_ranking)
        if fusion.FEEDBACK_DOCS and ranked:
            # pseudo-relevance feedback: move the question towards its best fused documents and rank again
            feedback = fusion.feedback(store, query_vector, [row for row, _ in ranked[:fusion.FEEDBACK_DOCS]])
            dense = store.dense(feedback, depth, allowed)
            ranked = fusion.fuse(store, feedback, dense, lexical_ranking)
    candidates = ranked[: max(PEOPLE_DEPTH, 3 * request.k)]  # enough to boost people and fold duplicates
    boost = bool(reading and (reading.people or reading.author) and request.mode == "hybrid")
    # the people boost reads PEOPLE_DEPTH documents; otherwise k and a few (for duplicates) usually suffice
    documents = store.database.ranked([row for row, _ in candidates], PEOPLE_DEPTH if boost else request.k + 4)
    if boost:
        candidates = _favour_people(candidates, documents, people_index, reading)
    kept, dupes = duplicates.collapse(store, candidates, documents, request.k)
    results = []
    for row, score in kept:
        doc = documents[row]
        result = {**doc.to_dict(), "score": round(float(score), 6), "citation": citation(doc)}
        if dupes.get(row):
            result["duplicates"] = [documents[other].id for other in dupes[row]]
        results.append(result)
    period = f"{date_from or '…'} to {date_to or '…'}" if (date_from or date_to) else None
    verdict = abstention.judge(store, query_vector, [row for row, _ in kept], topic, empty, period)
    return {
        "query": request.query,
        "mode": request.mode,
        "filters": {"date_from": date_from if not period_applied else None,
                    "date_to": date_to if not period_applied else None, "people": request.people},
        "interpreted": _interpreted(reading, period_applied, date_from, date_to),
        "answerable": verdict.answerable,
        "confidence": verdict.confidence,
        "coverage": verdict.coverage,
        "abstain_reason": verdict.reason,
        "results": results,
    }


def _interpreted(reading: Reading | None, period_applied: bool, date_from: str | None,
                 date_to: str | None) -> dict[str, Any]:
    """How the question was read, and whether that reading shaped the results."""
    if reading is None:
        return {"date_from": None, "date_to": None, "date_phrase": None, "loose": False, "people": [],
                "author": None, "applied": False}
    described = reading.describe(applied=bool(period_applied or reading.people or reading.author))
    if not period_applied and reading.period:
        described["date_overridden_by"] = {"date_from": date_from, "date_to": date_to}
    return described


def _other_names(question: str, reading: Reading, people_index: PeopleIndex) -> list[str]:
    """Other ways of writing the question's people ("Filippov" for "Stalin"), sharing no word with the question.

    Forms that repeat a word of the question ("Joseph Stalin") would count the same name twice in BM25.
    """
    asked = {word for word, _, _ in tokens(question)}
    extra: list[str] = []
    for person in reading.people:
        extra += [form for form in people_index.surface_forms(person)
                  if not asked & set(form.split()) and form not in extra]
    return extra


def _favour_people(candidates: list[tuple[int, float]], documents: Mapping[int, Document], people_index: PeopleIndex,
                   reading: Reading) -> list[tuple[int, float]]:
    """Raise documents by, to or about the question's people; more for the person whose words are asked for."""
    boosted = []
    for row, score in candidates[:PEOPLE_DEPTH]:
        doc = documents.get(row)
        if doc is None:
            continue
        who = people_index.involvement(doc)  # cached per (generation, document)
        share = (sum(p in who.named for p in reading.people) / len(reading.people)) if reading.people else 0.0
        factor = 1.0 + fusion.PEOPLE_BOOST * share
        if reading.author and reading.author in who.authors:
            factor += fusion.AUTHOR_BOOST
        boosted.append((row, score * factor))
    boosted.sort(key=lambda item: -item[1])
    return boosted + list(candidates[PEOPLE_DEPTH:])
