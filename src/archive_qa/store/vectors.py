"""FAISS vector indexes, chosen by collection size: exact below 100k vectors, IVF-SQ8 above."""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

EXACT_LIMIT = 100_000


def choose_kind(count: int) -> str:
    """The index kind for a collection of `count` vectors."""
    return "flat" if count < EXACT_LIMIT else "ivf-sq8"


def build(vectors: np.ndarray, kind: str = "auto") -> faiss.Index:
    """An inner-product index over unit vectors; row i of `vectors` gets id i.

    Args:
        kind: "flat" (exact), "ivf-sq8" (inverted lists, 8-bit scalar quantised), "hnsw" (graph,
            8-bit scalar quantised) or "auto" to choose by size.
    """
    count, dimension = vectors.shape
    kind = choose_kind(count) if kind == "auto" else kind
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif kind == "ivf-sq8":
        nlist = max(1, min(int(np.sqrt(count)), count // 39))  # 1,000 lists at 1M: trains in seconds
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sample = vectors[np.random.default_rng(0).choice(count, size=min(count, nlist * 64), replace=False)]
        log.info("training IVF-SQ8 with %d lists on %d vectors", nlist, len(sample))
        index.train(sample)
        index.nprobe = max(1, nlist // 32)
    elif kind == "hnsw":
        index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[: min(count, 100_000)])
        index.hnsw.efSearch = 128  # recall@10 0.96 at 200k clustered vectors (bench/scale.py); 64 gave 0.92
    else:
        raise ValueError(f"unknown index kind {kind!r}; use flat, ivf-sq8, hnsw or auto")
    if count:
        index.add(vectors)
    return index


def save(index: faiss.Index, path: Path) -> None:
    """Write an index file."""
    faiss.write_index(index, str(path))


# Read-only memory maps, so the processes that serve one index share its pages in the page cache:
# MMAP_IFC maps the codes of flat and HNSW indexes, MMAP the inverted lists of IVF ones.
MMAP_FLAGS = (faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY, faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)


def load(path: Path) -> faiss.Index:
    """Read an index, memory-mapped where FAISS can (read into memory otherwise)."""
    for flags in MMAP_FLAGS:
        try:
            return faiss.read_index(str(path), flags)
        except RuntimeError:
            continue
    return faiss.read_index(str(path))


def exact_vectors(index: faiss.Index) -> np.ndarray | None:
    """A read-only view of a flat index's own vectors (row-aligned, unquantised), else None.

    Cosines can then be read from the pages the search already touches instead of a second copy in
    vectors.npy. The view borrows the index's memory: keep the index alive while it is used.
    """
    if not isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return None
    view = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
    view.setflags(write=False)
    return view


def search(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The k best (row, score) pairs, restricted to `allowed` rows when given."""
    if index.ntotal == 0 or k <= 0:
        return []
    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k == 0:
        return []
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=max(index.nprobe, 1))
        elif isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
        else:
            params = faiss.SearchParameters(sel=selector)
    scores, rows = index.search(query.reshape(1, -1), k, params=params)
    return [(r, s) for r, s in zip(rows[0].tolist(), scores[0].tolist()) if r >= 0]  # tolist: exact, 10x faster
