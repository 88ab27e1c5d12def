"""BM25 of an any-phrase question as the sum of its phrases' BM25, each phrase's scores cached per generation.

FTS5's bm25() adds one term per phrase: idf(phrase) * saturated weighted frequency in the row, where neither
factor depends on the other phrases of the query. So the score of "a" OR "b" OR "c" is, to the last bit, the
sum of the scores of "a", "b" and "c" asked alone. Questions share their common words, and the common words
are the costly ones (the longest posting lists): asked alone once and remembered, a question whose words
have all been seen before ranks in ~0.4 ms instead of ~5 (FRUS full texts, bench/lexical_cache.py). A new
one-word phrase is scored from the generation's term postings (term_postings.py), FTS5's scores in numpy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from .base import Ranking
from .term_postings import Scores

MAX_ENTRIES = 1_000_000  # (row, score) pairs remembered per generation, ~12 MB


class PhraseScores:
    """Per-phrase BM25 of every matching row, kept least-recently-used up to MAX_ENTRIES pairs."""

    def __init__(self, ask: Callable[[str, str, tuple[float, ...]], Scores], size: int,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._ask = ask  # (table, phrase, weights) => the rows (ascending) matching the phrase and their scores
        self._size = size  # one past the highest row
        self._max_entries = max_entries
        self._entries = 0
        self._known: OrderedDict[tuple[str, tuple[float, ...], str], Scores] = OrderedDict()
        self._lock = threading.Lock()

    def rank(self, table: str, phrases: Sequence[str], k: int, weights: Sequence[float],
             allowed: np.ndarray | None = None) -> Ranking:
        """The k best (row, score) matching any phrase, inside `allowed` rows when given; ties by row."""
        weights = tuple(float(w) for w in weights)
        total = np.zeros(self._size, dtype=np.float64)
        matched = np.zeros(self._size, dtype=bool)
        for phrase in dict.fromkeys(phrases):
            rows, scores = self._scores(table, phrase, weights)
            total[rows] += scores
            matched[rows] = True
        if allowed is not None:
            inside = np.zeros(self._size, dtype=bool)
            inside[allowed] = True
            matched &= inside
        candidates = np.flatnonzero(matched)
        if len(candidates) > k > 0:  # only rows scoring at least the k-th best can be among the k (ties too)
            kth = np.partition(total[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[total[candidates] >= kth]
        best = candidates[np.lexsort((candidates, -total[candidates]))[:k]]
        return [(int(row), float(total[row])) for row in best]

    def _scores(self, table: str, phrase: str, weights: tuple[float, ...]) -> Scores:
        """One phrase's rows and scores, asked once."""
        key = (table, weights, phrase)
        with self._lock:
            found = self._known.get(key)
            if found is not None:
                self._known.move_to_end(key)
                return found
        found = self._ask(table, phrase, weights)
        rows = found[0]
        with self._lock:
            if key not in self._known:
                self._known[key] = found
                self._entries += len(rows)
                while self._entries > self._max_entries and len(self._known) > 1:
                    _, (dropped, _) = self._known.popitem(last=False)
                    self._entries -= len(dropped)
        return found
