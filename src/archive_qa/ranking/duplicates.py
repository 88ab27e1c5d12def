"""Near-duplicates: the same telegram held twice (two collections, two ids) is shown once, the copies listed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..documents import Document

SAME_TEXT = 0.97  # cosine of the embedded summaries above which two documents of one date are one telegram


def _fingerprint(doc: Document) -> str:
    """Summary (else text) reduced to its letters and digits, lower case."""
    return re.sub(r"[\W_]+", "", (doc.summary or doc.text or "").lower())[:400]


def _same_day(a: Document, b: Document) -> bool:
    """Both dated the same, or both undated."""
    return (a.date.iso if a.date else None) == (b.date.iso if b.date else None)


def collapse(store: Any, candidates: Sequence[tuple[int, float]], documents: dict[int, Document],
             k: int) -> tuple[list[tuple[int, float]], dict[int, list[int]]]:
    """The first k distinct candidates, and for each kept row the rows folded into it."""
    kept: list[tuple[int, float]] = []
    folded: dict[int, list[int]] = {}
    vectors = store.stored_vectors() if candidates else None
    kept_vectors: list[np.ndarray] = []
    for row, score in candidates:
        doc = documents.get(row)
        if doc is None:
            continue
        vector = np.asarray(vectors[row], dtype=np.float32)
        twin = None
        for index, (other, _) in enumerate(kept):
            other_doc = documents[other]
            if _same_day(doc, other_doc) and (
                    float(vector @ kept_vectors[index]) >= SAME_TEXT or _fingerprint(doc) == _fingerprint(other_doc)):
                twin = other
                break
        if twin is not None:
            folded.setdefault(twin, []).append(row)
            continue
        if len(kept) == k:
            break
        kept.append((row, score))
        kept_vectors.append(vector)
    return kept, folded
