"""Abstention: whether anything in the collection matches the question well enough to answer from.

Two signals, both over the first three results: the best cosine of question and document, and how much of
the question's content (its words weighted by rarity, IDF) those documents contain. Either one low means
nothing answers the question; so does a period that holds no documents.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import fusion, lexical

ANSWERABLE_FROM = 0.30  # best cosine of the question to a top-3 document (dev answerable: >= 0.41)
COVERED_FROM = 0.20  # IDF share of the question's words found in the top 3 (dev answerable: >= 0.29)
TOP = 3


@dataclass(frozen=True)
class Verdict:
    """The answerability flag and the signals behind it."""

    answerable: bool
    confidence: float  # best cosine of the question to a top-3 document
    coverage: float  # IDF-weighted share of the question's content words those documents contain
    reason: str | None  # why not answerable, for the page and the answer composer


def coverage(store: Any, words: Sequence[str], rows: Sequence[int]) -> float:
    """IDF-weighted share of `words` that occur in at least one of `rows` (title, summary, text or people)."""
    if not rows:
        return 0.0
    if not words:
        return 1.0  # nothing beyond a period or names to cover
    connection = store.database.connection
    total = store.count()
    marks = ",".join("?" * len(rows))
    weight = found = 0.0
    for word in words:
        match = lexical.match_expression([word])
        try:
            frequency = connection.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
            hit = connection.execute(f"SELECT 1 FROM fts WHERE fts MATCH ? AND rowid IN ({marks}) LIMIT 1",
                                     (match, *rows)).fetchone()
        except sqlite3.OperationalError:
            continue
        idf = math.log((total + 1) / (frequency + 0.5))
        weight += idf
        found += idf if hit else 0.0
    return found / weight if weight else 1.0


def judge(store: Any, query: np.ndarray, rows: Sequence[int], topic: str, empty: bool,
          period: str | None = None) -> Verdict:
    """Answerable when the filters leave documents and the first three match the question closely enough."""
    if empty or not rows:
        where = f" in {period}" if period else " within the filters"
        return Verdict(False, 0.0, 0.0, f"no documents{where}")
    top = list(rows[:TOP])
    best = float(np.max(fusion.cosines(store, query, top)))
    covered = coverage(store, lexical.terms(topic), top)
    reason = None
    if best < ANSWERABLE_FROM:
        reason = "no document is close in meaning to the question"
    elif covered < COVERED_FROM:
        reason = "the best documents share few of the question's words"
    return Verdict(reason is None, round(best, 4), round(covered, 4), reason)
