"""Fusing ranked lists: weighted reciprocal rank fusion, or a weighted sum of normalised scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..store.base import StoreReader

RRF_K = 60
METHOD = "score"  # "score" (chosen on the dev sets) or "rrf"
DENSE_WEIGHT = 1.0  # x exact cosine of question and document
LEXICAL_WEIGHT = 0.8  # x BM25 / the question's best BM25
AUTHOR_BOOST = 0.2  # x(1 + boost * topic match) for a document by the person whose words are asked for
TRUST_POWER = 1.0  # lexical weight x (IDF share of the question's words its best document holds) ** power
FEEDBACK_DOCS = 3  # pseudo-relevance feedback: how many fused top documents pull the question vector
FEEDBACK_WEIGHT = 1.0  # their mean vector's weight beside the question's


def reciprocal_rank(rankings: Sequence[tuple[Sequence[tuple[int, float]], float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse (ranking, weight) pairs; each ranking is (row, score) best first. Returns (row, fused score)."""
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: -item[1])


def cosines(store: StoreReader, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
    """Exact cosine similarity of the question to stored rows (vectors are unit length)."""
    if not rows:
        return np.zeros(0, dtype=np.float32)
    return store.vectors_of(rows) @ query


def by_cosine(store: StoreReader, query: np.ndarray, rows: Sequence[int]) -> list[tuple[int, float]]:
    """`rows` ranked by exact cosine to the question, best first."""
    scores = cosines(store, query, rows)
    return [(rows[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")]


def feedback(store: StoreReader, query: np.ndarray, rows: Sequence[int], weight: float | None = None) -> np.ndarray:
    """The question vector moved towards the mean of the given documents' vectors (Rocchio), unit length."""
    centroid = store.vectors_of(sorted(rows)).mean(axis=0)
    moved = query + (FEEDBACK_WEIGHT if weight is None else weight) * centroid
    return np.ascontiguousarray(moved / (np.linalg.norm(moved) or 1.0), dtype=np.float32)


def score_sum(store: StoreReader, query: np.ndarray, rankings: Sequence[tuple[Sequence[tuple[int, float]], float]],
              dense_weight: float) -> list[tuple[int, float]]:
    """Exact cosine of every candidate plus each other ranking's score divided by its best score, weighted."""
    rows = list(dict.fromkeys(row for ranking, _ in rankings for row, _ in ranking))
    if not rows:
        return []
    total = dense_weight * cosines(store, query, rows).astype(np.float64)
    position = {row: i for i, row in enumerate(rows)}
    for ranking, weight in rankings:
        if not ranking or not weight:  # a weight of 0 adds 0.0 to every score: only the rows count
            continue
        scores = np.fromiter((score for _, score in ranking), dtype=np.float64, count=len(ranking))
        places = np.fromiter((position[row] for row, _ in ranking), dtype=np.int64, count=len(ranking))
        total[places] += weight * scores / (scores.max() or 1.0)  # each row once per ranking
    order = np.argsort(-total)
    return [(rows[i], float(total[i])) for i in order]


def fuse(store: StoreReader, query: np.ndarray, dense: Sequence[tuple[int, float]],
         lexical: Sequence[tuple[int, float]], trust: float = 1.0) -> list[tuple[int, float]]:
    """The hybrid ranking of the dense and lexical candidates; `trust` (0..1) scales the lexical weight."""
    if METHOD == "score":
        return score_sum(store, query, [(dense, 0.0), (lexical, LEXICAL_WEIGHT * trust)], DENSE_WEIGHT)
    return reciprocal_rank([(dense, DENSE_WEIGHT), (lexical, LEXICAL_WEIGHT * trust)])
