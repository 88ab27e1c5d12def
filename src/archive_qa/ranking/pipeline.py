"""The ranking pipeline: named stages over one candidates object (read, retrieve, fuse, feedback, people,
duplicates, verdict).

Each stage reads and writes `Candidates`; `search.search` runs `STAGES` in order. An ablation drops a stage
by name (`SearchRequest.skip`), and a new stage, such as a reranker, is one more entry in `STAGES`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
import numpy as np

from ..dates import PartialDate
from ..documents import Document
from ..places import question_regions
from ..store.base import Filters, StoreReader, person_key
from . import abstention, duplicates, fusion, lexical
from .people import PeopleIndex, index_for, tokens
from .question import Reading, read_question

log = logging.getLogger(__name__)

CANDIDATES = 100  # per ranker, before fusion
# Feedback searches the whole index again with the moved vector (True), or re-scores the candidates both
# rankers found (False, default): the same top 10 for 629 of 630 dev questions in five phrasings, the same
# nDCG@10 on all five conditions, and one flat search (~0.5 ms on FRUS) less a hybrid question.
FEEDBACK_SEARCH = False
PEOPLE_DEPTH = 50  # fused candidates whose authors are read for the author boost
BROWSE_DEPTH = 400  # documents of a period or person a browse question ranks by centrality
# Words that ask to see documents rather than name a topic ("what happened in July 1951?").
BROWSE_WORDS = frozenset("""happen happened happening going go went anything everything documents document papers
records record items material materials show list give find events event news archive archives""".split())

Ranking = list[tuple[int, float]]


@dataclass
class Request:
    """What the pipeline needs from a search request."""

    query: str
    k: int
    date_from: PartialDate | None
    date_to: PartialDate | None
    people: list[str]
    mode: str
    interpret: bool
    skip: frozenset[str] = frozenset()
    places: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)


@dataclass
class Candidates:
    """Everything the stages know about one question, filled in as they run."""

    store: StoreReader
    request: Request
    pending_vector: Future | None = None
    people_index: PeopleIndex | None = None
    reading: Reading | None = None
    date_from: str | None = None
    date_to: str | None = None
    period_applied: bool = False
    read_regions: list[str] = field(default_factory=list)  # regions the question names, applied as a filter
    filters: Filters = field(default_factory=Filters)
    allowed: np.ndarray | None = None  # rows inside the filters, None when unfiltered
    topic: str = ""  # the question without its period
    topic_words: list[str] = field(default_factory=list)  # content words, people's names left out
    person_forms: list[list[str]] = field(default_factory=list)  # per question person: as written, then other names
    browse: bool = False  # only a period and/or people: rank their documents by centrality
    query_vector: np.ndarray | None = None
    dense: Ranking = field(default_factory=list)
    lexical: Ranking = field(default_factory=list)
    topic_match: dict[int, float] = field(default_factory=dict)  # row => topic words' BM25 share, 0..1
    trust: float = 1.0  # the lexical ranking's weight factor in the fusion (_lexical_trust), set by `fuse`
    ranked: Ranking = field(default_factory=list)
    documents: Mapping[int, Document] = field(default_factory=dict)
    kept: Ranking = field(default_factory=list)
    dupes: dict[int, list[int]] = field(default_factory=dict)
    verdict: abstention.Verdict | None = None

    @property
    def empty(self) -> bool:
        """The filters leave no document."""
        return self.allowed is not None and not len(self.allowed)

    @property
    def depth(self) -> int:
        """How many candidates each ranker returns."""
        return max(CANDIDATES, self.request.k * 2)

    def vector(self) -> np.ndarray:
        """The question's vector, waiting for the encoder where it runs on another thread."""
        if self.query_vector is None and self.pending_vector is not None:
            self.query_vector = self.pending_vector.result()
        return self.query_vector


def read(c: Candidates) -> None:
    """Read the period and people of the question; set the filters and the topic words."""
    request = c.request
    c.people_index = index_for(c.store)
    c.reading = read_question(request.query, c.people_index) if request.interpret else None
    c.date_from, c.date_to, c.period_applied = _bounds(request, c.reading)
    keys = [person_key(p) for p in request.people if person_key(p)]
    regions = list(request.regions)
    c.topic = c.reading.topic if c.reading and c.period_applied else request.query
    if c.reading and not regions and c.store.has_regions:
        named = question_regions(c.topic)  # "about East Asia": a filter, its words out of the topic
        c.read_regions = list(dict.fromkeys(region for region, _, _ in named))
        regions = c.read_regions
        for _, start, end in reversed(named):
            c.topic = c.topic[:start] + " " + c.topic[end:]
    c.filters = Filters(c.date_from, c.date_to, tuple(keys), tuple(request.places), tuple(regions))
    if c.filters:
        c.allowed = c.store.filter_rows(c.filters)
    words = lexical.terms(c.topic)
    if c.reading and c.reading.people:
        named = {word for start, end in c.reading.spans for word in lexical.terms(request.query[start:end])}
        words = [word for word in words if word not in named]
        asked = {word for word, _, _ in tokens(request.query)}
        for person, (start, end) in zip(c.reading.people, c.reading.first_spans):
            written = " ".join(word for word, _, _ in tokens(request.query[start:end]))
            forms = [written] + [form for form in c.people_index.surface_forms(person)
                                 if not asked & set(form.split())]  # the other names: no word of the question
            c.person_forms.append(forms)
    c.topic_words = words
    substantive = [word for word in words if word not in BROWSE_WORDS]
    c.browse = bool(c.reading and not substantive and (c.period_applied or c.reading.people))


def retrieve(c: Candidates) -> None:
    """The lexical ranking (topic words, each person one term) and the dense ranking, inside the filters."""
    request = c.request
    if c.empty:
        c.vector()
        return
    if request.mode in ("hybrid", "lexical"):
        if c.browse:
            c.lexical = _browse_ranking(c)
        else:
            c.lexical = _lexical_ranking(c)
        abstention.prefetch(c.store, lexical.terms(c.topic))  # the verdict's word frequencies, while encoding
    if request.mode in ("hybrid", "dense") and not (c.browse and request.mode == "hybrid"):
        c.dense = c.store.dense(c.vector(), c.depth, c.filters)
    c.vector()


def fuse(c: Candidates) -> None:
    """The hybrid ranking: exact cosine plus the normalised lexical score; a single ranker's list otherwise."""
    if c.request.mode == "dense":
        c.ranked = c.dense
    elif c.request.mode == "lexical" or c.browse:
        c.ranked = c.lexical
    else:
        c.trust = _lexical_trust(c)
        c.ranked = fusion.fuse(c.store, c.vector(), c.dense, c.lexical, c.trust)


def _lexical_trust(c: Candidates) -> float:
    """How far the best lexical match covers the question's words (IDF-weighted), to the TRUST_POWER."""
    if not fusion.TRUST_POWER or not c.lexical:
        return 1.0
    covered = abstention.coverage(c.store, lexical.terms(c.topic), [c.lexical[0][0]])
    return covered ** fusion.TRUST_POWER


def feedback(c: Candidates) -> None:
    """Pseudo-relevance feedback: move the question towards its best fused documents and rank again."""
    if c.request.mode != "hybrid" or c.browse or not fusion.FEEDBACK_DOCS or not c.ranked:
        return
    moved = fusion.feedback(c.store, c.vector(), [row for row, _ in c.ranked[:fusion.FEEDBACK_DOCS]])
    if FEEDBACK_SEARCH:
        c.dense = c.store.dense(moved, c.depth, c.filters)
    else:  # the fused rows are both rankers' candidates, already inside the filters
        c.dense = fusion.by_cosine(c.store, moved, [row for row, _ in c.ranked])
    c.ranked = fusion.fuse(c.store, moved, c.dense, c.lexical, c.trust)


def people(c: Candidates) -> None:
    """Raise documents by the person whose words are asked for, among the documents that match the topic."""
    reading = c.reading
    boost = bool(reading and reading.author and c.request.mode == "hybrid")
    candidates = c.ranked[: max(PEOPLE_DEPTH, 3 * c.request.k)]
    c.documents = c.store.ranked([row for row, _ in candidates], PEOPLE_DEPTH if boost else c.request.k + 4)
    if not boost:
        c.ranked = candidates
        return
    raised = []
    for row, score in candidates[:PEOPLE_DEPTH]:
        doc = c.documents.get(row)
        if doc is None:
            continue
        match = 1.0 if c.browse or not c.topic_words else c.topic_match.get(row, 0.0)
        by_author = reading.author in c.people_index.involvement(doc).authors
        raised.append((row, score * (1.0 + fusion.AUTHOR_BOOST * match) if by_author else score))
    raised.sort(key=lambda item: -item[1])
    c.ranked = raised + list(candidates[PEOPLE_DEPTH:])


def fold_duplicates(c: Candidates) -> None:
    """Show the same telegram in two collections once; the kept result lists the others."""
    if not c.documents and c.ranked:
        c.documents = c.store.ranked([row for row, _ in c.ranked], c.request.k + 4)
    c.kept, c.dupes = duplicates.collapse(c.store, c.ranked, c.documents, c.request.k)


def verdict(c: Candidates) -> None:
    """Whether the results answer the question; a browse question is answered by any document it finds."""
    period = f"{c.date_from or '…'} to {c.date_to or '…'}" if (c.date_from or c.date_to) else None
    rows = [row for row, _ in c.kept]
    c.verdict = abstention.judge(c.store, c.vector(), rows, c.topic, c.empty, period, browse=c.browse)


STAGES: tuple[tuple[str, Callable[[Candidates], None]], ...] = (
    ("read", read), ("retrieve", retrieve), ("fuse", fuse), ("feedback", feedback), ("people", people),
    ("duplicates", fold_duplicates), ("verdict", verdict),
)
REQUIRED = frozenset({"read", "retrieve", "fuse", "duplicates", "verdict"})  # the rest can be skipped


def run(c: Candidates) -> Candidates:
    """Every stage not skipped, in order."""
    unknown = c.request.skip - {name for name, _ in STAGES}
    if unknown or c.request.skip & REQUIRED:
        raise ValueError(f"skip: only {', '.join(sorted({n for n, _ in STAGES} - REQUIRED))} can be skipped")
    for name, stage in STAGES:
        if name not in c.request.skip:
            stage(c)
    return c


def _bounds(request: Request, reading: Reading | None) -> tuple[str | None, str | None, bool]:
    """The date range to filter on: explicit dates win; else the question's period. Also whether it was read."""
    if request.date_from or request.date_to:
        return (request.date_from.start.isoformat() if request.date_from else None,
                request.date_to.end.isoformat() if request.date_to else None, False)
    if reading and reading.period:
        period = reading.period.padded()
        return (period.start.isoformat() if period.start else None,
                period.end.isoformat() if period.end else None, True)
    return None, None, False


def _lexical_ranking(c: Candidates) -> Ranking:
    """BM25 of the question's words; a person's other names widen the match and never add weight.

    The question's words as written are scored once, and once more with each person's name replaced by
    that person's other names ("Filippov", "Fyn Si" for "Stalin"); a document keeps the better of the two,
    each over its best, so "Filippov [Stalin]" in a title counts as one name, not two.
    """
    words = lexical.terms(c.topic)
    if not words:
        return []
    ranking = lexical.balanced(c.store, words, c.depth, c.filters)
    others = [form for forms in c.person_forms for form in forms[1:]]
    if others:
        widened = lexical.balanced(c.store, c.topic_words + others, c.depth, c.filters)
        best = dict(ranking)
        for row, score in widened:
            best[row] = max(score, best.get(row, 0.0))
        ranking = sorted(best.items(), key=lambda item: -item[1])[:c.depth]
    c.topic_match = dict(ranking)
    return ranking


def _browse_ranking(c: Candidates) -> Ranking:
    """A period's or person's documents, the most central first (cosine to their mean vector).

    For people, how strongly a document names them (BM25 of their names, over the best) is added, so a
    telegram by or about them comes before one that mentions them in passing.
    """
    named: dict[int, float] = {}
    if c.person_forms:
        phrases = [form for forms in c.person_forms for form in forms]
        found = c.store.lexical(phrases, BROWSE_DEPTH, lexical.FIELD_WEIGHTS, c.filters)
        best = max((score for _, score in found), default=0.0) or 1.0
        named = {row: score / best for row, score in found}
        rows = np.array(sorted(named), dtype=np.int64)
    elif c.allowed is not None:
        rows = np.sort(c.allowed)
    else:
        return []
    if not len(rows):
        return []
    vectors = c.store.vectors_of(rows)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    scores = vectors @ centre
    ranking = sorted(((int(row), float(score) + named.get(int(row), 0.0)) for row, score in zip(rows, scores)),
                     key=lambda item: -item[1])[:BROWSE_DEPTH]
    c.topic_match = {row: 1.0 for row, _ in ranking}
    return ranking
