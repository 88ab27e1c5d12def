"""Lexical ranking as the sum of per-phrase BM25: the same rows and scores as FTS5's own OR query."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from archive_qa.ranking import lexical
from archive_qa.store import Filters, Store
from archive_qa.store.phrase_scores import PhraseScores

QUESTIONS = ["what did Stalin say about neutral countries?", "armistice talks at Kaesong and the demarcation line",
             "Mao Zedong telegram on prisoners of war", "Soviet note on German reunification", "Formosa",
             "zzz-no-such-word armistice"]
WEIGHTS = (3.0, 2.0, 1.0, 2.0)


def or_query(store: Store, words: list[str], k: int, table: str = "fts") -> list[tuple[int, float]]:
    """FTS5's own bm25() over the OR of the phrases, as the store asked it before the cache."""
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
    weights = ",".join(map(str, WEIGHTS if table == "fts" else WEIGHTS[:3]))
    with sqlite3.connect(store.generation / "documents.sqlite") as connection:
        return list(connection.execute(f"SELECT rowid, -bm25({table}, {weights}) AS score FROM {table} "
                                       f"WHERE {table} MATCH ? ORDER BY score DESC, rowid LIMIT ?", (match, k)))


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_sum_of_phrases_is_fts5s_or_query(bundled_index: Path, question: str) -> None:
    store = Store.open(bundled_index)
    words = lexical.terms(question)
    for k in (5, 100):
        assert store.lexical(words, k, WEIGHTS) == or_query(store, words, k)
        assert store.lexical(words, k, WEIGHTS) == or_query(store, words, k), "the cached answer differs"


def test_head_ranking_and_filters_match_too(bundled_index: Path) -> None:
    store = Store.open(bundled_index)
    words = lexical.terms("armistice negotiations and prisoners")
    assert store.lexical(words, 50, WEIGHTS[:3], head=True) == or_query(store, words, 50, table="fts_head")
    filters = Filters(date_from="1951-07-01", date_to="1951-12-31")
    inside = set(store.filter_rows(filters).tolist())
    every = store.lexical(words, 10_000, WEIGHTS)
    assert store.lexical(words, 10, WEIGHTS, filters) == [pair for pair in every if pair[0] in inside][:10]
    assert 0 < len(inside) < store.count()


def test_the_cache_keeps_at_most_its_bound_of_pairs() -> None:
    asked = []

    def ask(table: str, phrase: str, weights: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        asked.append(phrase)
        rows = np.arange(0, 10, 1 + len(phrase) % 3, dtype=np.int32)
        return rows, 1.0 + rows.astype(np.float64)

    scores = PhraseScores(ask, size=10, max_entries=12)
    # "aa" holds rows 0, 3, 6, 9 and "b" rows 0, 2, 4, 6, 8, each scoring 1 + row: 6 is in both
    assert scores.rank("fts", ["aa", "b"], 3, (1.0,)) == [(6, 14.0), (9, 10.0), (8, 9.0)]
    scores.rank("fts", ["aa", "b"], 3, (1.0,))
    assert asked == ["aa", "b"], "a phrase asked before is not asked again"
    scores.rank("fts", ["cccc"], 3, (1.0,))  # 9 pairs held and 5 more: over 12, so the oldest phrase goes
    scores.rank("fts", ["aa"], 3, (1.0,))
    assert asked == ["aa", "b", "cccc", "aa"]


@pytest.mark.parametrize("k", [1, 3, 5, 8, 40])
def test_top_k_with_ties_at_the_cut_is_the_full_sort(k: int) -> None:
    rng = np.random.default_rng(k)
    rows = np.arange(0, 40, dtype=np.int32)
    values = {"a": rng.choice([0.5, 1.0, 1.5, 2.0], size=40), "b": rng.choice([0.0, 0.25, 1.0], size=40)}
    scores = PhraseScores(lambda table, phrase, weights: (rows, values[phrase]), size=40)
    allowed = np.arange(0, 40, 3)
    for inside in (None, allowed):
        total = values["a"] + values["b"]
        candidates = rows if inside is None else rows[inside]
        order = candidates[np.lexsort((candidates, -total[candidates]))][:k]  # every candidate sorted
        assert scores.rank("fts", ["a", "b"], k, (1.0,), inside) == [(int(r), float(total[r])) for r in order]
