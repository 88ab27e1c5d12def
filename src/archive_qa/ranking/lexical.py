"""Lexical retrieval: BM25 over title, summary, full text and people through SQLite FTS5."""

from __future__ import annotations

import re

from ..store import Store

# title, summary, text, people
FIELD_WEIGHTS = (3.0, 2.0, 1.0, 2.0)

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


def match_expression(words: list[str]) -> str:
    """An FTS5 query that matches any of the words (each quoted, so no FTS syntax leaks through)."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def search(store: Store, question: str, k: int, clauses: list[str] | None = None,
           params: list | None = None, weights: tuple[float, float, float, float] = FIELD_WEIGHTS) -> list[tuple[int, float]]:
    """The k best (row, bm25 score) for the question's words within the filter clauses."""
    words = terms(question)
    if not words:
        return []
    return store.database.lexical(match_expression(words), k, weights, clauses, params)
