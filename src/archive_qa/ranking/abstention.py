"""Abstention: whether anything in the collection matches the question well enough to answer from.

Two signals, both over the first three results: the best cosine of question and document, and how much of
the question's content (its words weighted by rarity, IDF) those documents contain. Either one low means
nothing answers the question; so does a period that holds no documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..store.base import StoreReader
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


def coverage(store: StoreReader, words: Sequence[str], rows: Sequence[int]) -> float:
    """IDF-weighted share of `words` that occur in at least one of `rows` (title, summary, text or people)."""
    if not rows:
        return 0.0
    if not words:
        return 1.0  # nothing beyond a period or names to cover
    total = store.count()
    frequencies = store.document_frequencies(words)  # words the store refuses are left out
    hits = store.words_in(words, rows)
    weight = found = 0.0
    for word in words:
        if word not in frequencies or word not in hits:
            continue
        idf = math.log((total + 1) / (frequencies[word] + 0.5))
        weight += idf
        found += idf if hits[word] else 0.0
    return found / weight if weight else 1.0


def prefetch(store: StoreReader, words: Sequence[str]) -> None:
    """Count the documents holding each word now (the store remembers them), ahead of `judge`."""
    store.document_frequencies(words)


def judge(store: StoreReader, query: np.ndarray, rows: Sequence[int], topic: str, empty: bool,
          period: str | None = None, browse: bool = False) -> Verdict:
    """Answerable when the filters leave documents and the first three match the question closely enough.

    A browse question (only a period and/or people) is answered by the documents it finds.
    """
    if empty or not rows:
        where = f" in {period}" if period else " within the filters"
        return Verdict(False, 0.0, 0.0, f"no documents{where}")
    top = list(rows[:TOP])
    best = float(np.max(fusion.cosines(store, query, top)))
    if browse:
        return Verdict(True, round(best, 4), 1.0, None)
    covered = coverage(store, lexical.terms(topic), top)
    reason = None
    if best < ANSWERABLE_FROM:
        reason = "no document is close in meaning to the question"
    elif covered < COVERED_FROM:
        reason = "the best documents share few of the question's words"
    return Verdict(reason is None, round(best, 4), round(covered, 4), reason)
