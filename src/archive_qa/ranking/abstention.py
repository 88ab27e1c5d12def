"""Abstention: whether anything in the collection matches the question well enough to answer from.

Two signals, both over the first three results: the best cosine of question and document, and how much of
the question's content (its words weighted by rarity, IDF) those documents contain. Either one low means
nothing answers the question; so does a period that holds no documents.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import fusion, lexical

ANSWERABLE_FROM = 0.30  # best cosine of the question to a top-3 document (dev answerable: >= 0.41)
COVERED_FROM = 0.20  # IDF share of the question's words found in the top 3 (dev answerable: >= 0.29)
TOP = 3
FREQUENCY_CACHE = 16384  # (generation, word) => documents matching the word; least recent dropped

_FREQUENCIES: OrderedDict[tuple[str, str], int] = OrderedDict()
_LOCK = threading.Lock()


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
    total = store.count()
    try:
        frequencies = _frequencies(store, words)
        hits = _hits(store, words, rows)
    except sqlite3.OperationalError:  # one word FTS5 refuses: ask word by word, leaving that one out
        frequencies, hits = _one_by_one(store, words, rows)
    weight = found = 0.0
    for word in words:
        if word not in frequencies:
            continue
        idf = math.log((total + 1) / (frequencies[word] + 0.5))
        weight += idf
        found += idf if hits[word] else 0.0
    return found / weight if weight else 1.0


def prefetch(store: Any, words: Sequence[str]) -> None:
    """Count the documents holding each word now (into the per-generation cache), ahead of `judge`."""
    try:
        _frequencies(store, words)
    except sqlite3.OperationalError:
        pass  # `coverage` asks word by word and leaves out the one FTS5 refuses


def _frequencies(store: Any, words: Sequence[str]) -> dict[str, int]:
    """How many documents hold each word: remembered per generation, the rest asked in one statement."""
    generation = str(store.generation)
    with _LOCK:
        known = {w: _FREQUENCIES[(generation, w)] for w in words if (generation, w) in _FREQUENCIES}
        for word in known:
            _FREQUENCIES.move_to_end((generation, word))
    asked = [w for w in dict.fromkeys(words) if w not in known]
    if asked:
        sql = "SELECT " + ", ".join(["(SELECT count(*) FROM fts WHERE fts MATCH ?)"] * len(asked))
        counts = store.database.connection.execute(sql, [lexical.match_expression([w]) for w in asked]).fetchone()
        with _LOCK:
            for word, count in zip(asked, counts):
                known[word] = _FREQUENCIES[(generation, word)] = int(count)
            while len(_FREQUENCIES) > FREQUENCY_CACHE:
                _FREQUENCIES.popitem(last=False)
    return known


def _hits(store: Any, words: Sequence[str], rows: Sequence[int]) -> dict[str, bool]:
    """Whether each word occurs in at least one of `rows`, in one statement."""
    unique = list(dict.fromkeys(words))
    marks = ",".join(str(int(row)) for row in rows)
    sql = "SELECT " + ", ".join([f"EXISTS(SELECT 1 FROM fts WHERE fts MATCH ? AND rowid IN ({marks}))"] * len(unique))
    found = store.database.connection.execute(sql, [lexical.match_expression([w]) for w in unique]).fetchone()
    return {word: bool(hit) for word, hit in zip(unique, found)}


def _one_by_one(store: Any, words: Sequence[str], rows: Sequence[int]) -> tuple[dict[str, int], dict[str, bool]]:
    """Frequencies and hits asked word by word; words FTS5 refuses are left out of both."""
    connection = store.database.connection
    marks = ",".join("?" * len(rows))
    frequencies: dict[str, int] = {}
    hits: dict[str, bool] = {}
    for word in words:
        match = lexical.match_expression([word])
        try:
            frequency = connection.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
            hit = connection.execute(f"SELECT 1 FROM fts WHERE fts MATCH ? AND rowid IN ({marks}) LIMIT 1",
                                     (match, *rows)).fetchone()
        except sqlite3.OperationalError:
            continue
        frequencies[word], hits[word] = frequency, hit is not None
    return frequencies, hits


def judge(store: Any, query: np.ndarray, rows: Sequence[int], topic: str, empty: bool,
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
