"""Lexical retrieval: BM25 over title, summary, full text and people, through the store's full-text search.

`balanced` scores records with full text and records without it apart, each against its own best, so a
record that has only a title and a summary is not outscored for lacking the text field.
"""

from __future__ import annotations

import re

from ..store.base import Filters, Ranking, StoreReader

# title, summary, text, people
FIELD_WEIGHTS = (3.0, 2.0, 1.0, 2.0)
HEAD_WEIGHTS = (3.0, 2.0, 2.0)  # title, summary, people in fts_head (the records without full text)

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
out over own same she should so some such than that the their them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your
say said says tell told write wrote written about regarding concerning anything something documents document
""".split())

_TOKEN = re.compile(r"[\w][\w'’.-]*[\w]|\w", re.UNICODE)


def terms(question: str) -> list[str]:
    """The question's content words, lower-cased, stopwords dropped, order kept."""
    seen: list[str] = []
    for token in _TOKEN.findall(question.lower()):
        token = re.sub(r"['’]s$", "", token).strip(".'’-")
        if token and token not in STOPWORDS and token not in seen and (len(token) > 1 or token.isdigit()):
            seen.append(token)
    return seen


def balanced(store: StoreReader, words: list[str], k: int, filters: Filters | None = None) -> Ranking:
    """(row, score in 0..1) best first: BM25 over all fields for records with text, over the head alone without.

    A record with text is scored by BM25 over all its fields, over the best such score of any record. A
    record without text is scored by BM25 over title, summary and people (`fts_head`, whose lengths are
    every record's head), over the best head score, so it is not outscored for lacking a field. An index
    whose records all have text (or a generation written before `fts_head`) needs the one BM25 only.
    """
    ranking = store.lexical(words, k, FIELD_WEIGHTS, filters)
    with_text = store.with_text
    if not store.has_head_index or store.all_have_text:
        return _over_best(ranking)
    scores = {row: score for row, score in _over_best(ranking) if row in with_text}
    for row, score in _over_best(store.lexical(words, k, HEAD_WEIGHTS, filters, head=True)):
        if row not in with_text:
            scores[row] = score
    return sorted(scores.items(), key=lambda item: -item[1])[:k]


def _over_best(ranking: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Scores divided by the best one."""
    best = max((score for _, score in ranking), default=0.0) or 1.0
    return [(row, score / best) for row, score in ranking]


def search(store: StoreReader, question: str, k: int, filters: Filters | None = None,
           weights: tuple[float, float, float, float] = FIELD_WEIGHTS) -> Ranking:
    """The k best (row, bm25 score) for the question's words within the filters."""
    words = terms(question)
    if not words:
        return []
    return store.lexical(words, k, weights, filters)
