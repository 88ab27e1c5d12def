"""Fusing ranked lists: reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank(rankings: Sequence[tuple[Sequence[tuple[int, float]], float]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse (ranking, weight) pairs; each ranking is (row, score) best first. Returns (row, fused score)."""
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: -item[1])
