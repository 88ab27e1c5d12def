"""Scale: the FAISS index types of store/vectors.py on up to 1,000,000 synthetic 384-d vectors with real structure.

Run (from the repository root):
    .venv/bin/python bench/scale.py                          # 1M vectors: flat and ivf-sq8; hnsw at 200k
    .venv/bin/python bench/scale.py --n 100000 --hnsw-n 100000   # a quick look

Vectors are unit vectors drawn around --clusters random centres (cosine to the centre ~0.64), queries are
drawn the same way; the truth is exact inner-product search. For each index kind it reports the build time
(`vectors.build`, as ingest runs it), the index's bytes on disk, the process's RSS growth while building,
and for each search setting (nprobe for IVF, efSearch for HNSW) recall@10 against exact search and the
single-query latency p50/p95 with one thread (as `archive-qa serve` runs). `choose_kind(n)` names the kind
ingest would pick. HNSW builds slowly on few cores, so it is measured on the first --hnsw-n vectors
(against exact search over those) unless --hnsw-n equals --n. Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import benchlib
from archive_qa.store import vectors as vector_index

DIMENSION = 384


def clustered(n: int, centres: np.ndarray, rng: np.random.Generator, spread: float,
              chunk: int = 100_000) -> np.ndarray:
    """`n` unit vectors, each a random centre plus Gaussian noise `spread` times the centre's length."""
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    sigma = spread / np.sqrt(centres.shape[1])
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        labels = rng.integers(0, len(centres), size=stop - start)
        block = centres[labels] + rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32) * sigma
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def exact(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the exact top-k by inner product (all threads)."""
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    _, rows = index.search(queries, k)
    return rows


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true top-k that was found."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def measure(index: faiss.Index, queries: np.ndarray, truth: np.ndarray, k: int, latency_queries: int) -> dict[str, Any]:
    """Recall@k over all queries (batched), and one-at-a-time latency on one thread."""
    _, found = index.search(queries, k)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    samples = []
    for query in queries[:latency_queries]:
        start = time.perf_counter()
        index.search(query.reshape(1, -1), k)
        samples.append(time.perf_counter() - start)
    faiss.omp_set_num_threads(threads)
    lat = benchlib.percentiles(samples)
    return {"recall_at_10": round(recall(found, truth), 4), "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"]}


def run_kind(kind: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray, args: argparse.Namespace,
             scratch: Path) -> list[dict[str, Any]]:
    """Build one kind, size it, sweep its search setting."""
    gc.collect()
    before = benchlib.proc_memory()["rss_mib"]
    start = time.perf_counter()
    index = vector_index.build(base, kind)
    build_s = time.perf_counter() - start
    grown = benchlib.proc_memory()["rss_mib"] - before
    path = scratch / f"{kind}.faiss"
    vector_index.save(index, path)
    size = path.stat().st_size
    path.unlink()
    common = {"kind": kind, "n": len(base), "build_s": round(build_s, 1), "index_mib": round(size / 2**20, 1),
              "rss_growth_mib": round(grown, 1)}
    rows = []
    if isinstance(index, faiss.IndexIVF):
        common["nlist"] = index.nlist
        default = index.nprobe
        for nprobe in sorted({default, *args.nprobe}):
            if nprobe <= index.nlist:
                index.nprobe = nprobe
                rows.append({**common, "setting": f"nprobe={nprobe}" + (" (default)" if nprobe == default else ""),
                             **measure(index, queries, truth, args.k, args.latency_queries)})
        index.nprobe = default
    elif isinstance(index, faiss.IndexHNSW):
        default = index.hnsw.efSearch
        for ef in sorted({default, *args.ef_search}):
            index.hnsw.efSearch = ef
            rows.append({**common, "setting": f"efSearch={ef}" + (" (default)" if ef == default else ""),
                         **measure(index, queries, truth, args.k, args.latency_queries)})
    else:
        rows.append({**common, "setting": "exact", **measure(index, queries, truth, args.k, args.latency_queries)})
    for row in rows:
        print(benchlib.table([row], COLUMNS).splitlines()[-1], flush=True)
    del index
    gc.collect()
    return rows


COLUMNS = ["kind", "n", "setting", "recall_at_10", "p50_ms", "p95_ms", "build_s", "index_mib", "rss_growth_mib"]


def main(argv: list[str] | None = None) -> int:
    """Run the scale benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the collection")
    parser.add_argument("--hnsw-n", type=int, default=200_000, help="vectors for the HNSW build (0 skips it)")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=1.2,
                        help="noise length / centre length (1.2: cosine to the centre ~0.64)")
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall")
    parser.add_argument("--latency-queries", type=int, default=300, help="queries timed one at a time")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--kinds", nargs="+", default=["flat", "ivf-sq8", "hnsw"])
    parser.add_argument("--nprobe", type=int, nargs="*", default=[8, 16, 32, 64])
    parser.add_argument("--ef-search", type=int, nargs="*", default=[16, 32, 128])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON output path (default bench/results/scale.json)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, DIMENSION), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    start = time.perf_counter()
    base = clustered(args.n, centres, rng, args.spread)
    queries = clustered(args.queries, centres, rng, args.spread)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    truth = exact(base, queries, args.k)
    truth_s = time.perf_counter() - start
    print(f"{args.n:,} vectors around {args.clusters} centres generated in {generate_s:.0f}s, exact top-{args.k} of "
          f"{args.queries} queries in {truth_s:.0f}s; choose_kind({args.n:,}) = {vector_index.choose_kind(args.n)}; "
          f"{faiss.omp_get_max_threads()} threads for builds", file=sys.stderr)
    print(benchlib.table([], COLUMNS), flush=True)

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="archive-qa-scale-") as scratch:
        for kind in args.kinds:
            if kind == "hnsw":
                if not args.hnsw_n:
                    continue
                n = min(args.hnsw_n, args.n)
                sub_truth = truth if n == args.n else exact(base[:n], queries, args.k)
                rows += run_kind(kind, base[:n], queries, sub_truth, args, Path(scratch))
            else:
                rows += run_kind(kind, base, queries, truth, args, Path(scratch))
    path = benchlib.write_result("scale", {
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "n": args.n, "clusters": args.clusters, "spread": args.spread,
        "queries": args.queries, "dimension": DIMENSION, "chosen_kind": vector_index.choose_kind(args.n),
        "generate_s": round(generate_s, 1), "exact_truth_s": round(truth_s, 1), "rows": rows,
        "peak_rss_mib": benchlib.proc_memory()["peak_rss_mib"],
    }, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
