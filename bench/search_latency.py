"""Warm search latency: hybrid (reading the question) against dense-only and lexical-only, p50/p95 per mode.

Run (from the repository root):
    .venv/bin/python bench/search_latency.py --index /tmp/frus_index
    .venv/bin/python bench/search_latency.py --index index --questions ../shared/eval/seed_dev_qrels.jsonl

The model is loaded and the index opened once; every question is searched once per mode to warm the page
cache, then timed --repeat times per mode with the modes interleaved, on --threads math threads (1, as
`archive-qa serve` answers). The question-vector cache is emptied
before each timed search, so every timing includes encoding the question; a second set of rows ("cached")
times the same searches with the question's vector cached, i.e. everything but the encoder.
Writes bench/results/search_latency.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import EVAL, percentiles, questions, table, write_result  # noqa: E402

MODES = (("hybrid", "hybrid", True), ("dense", "dense", False), ("lexical", "lexical", False))


def main() -> int:
    """Time every mode over the eval questions and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="index directory")
    parser.add_argument("--questions", nargs="+", default=[str(EVAL)], help="qrels files or directories")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the questions per mode")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="math threads, as `archive-qa serve` uses")
    parser.add_argument("--out", help="result file (default bench/results/search_latency.json)")
    args = parser.parse_args()

    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)

    from archive_qa.archive import open_index

    archive = open_index(args.index)
    asked = questions(args.questions)
    for item in asked:  # warm: page cache, people index, SQLite statements
        for _, mode, interpret in MODES:
            archive.search(item["q"], k=args.k, mode=mode, interpret=interpret)
    samples: dict[str, list[float]] = {label: [] for label, _, _ in MODES}
    cached: dict[str, list[float]] = {label: [] for label, _, _ in MODES}
    for _ in range(args.repeat):
        for item in asked:
            for label, mode, interpret in MODES:
                archive.embedder._cache.clear()  # time the question's encoding too
                started = time.perf_counter()
                archive.search(item["q"], k=args.k, mode=mode, interpret=interpret)
                samples[label].append(time.perf_counter() - started)
                started = time.perf_counter()  # the same search again: the question's vector is cached
                archive.search(item["q"], k=args.k, mode=mode, interpret=interpret)
                cached[label].append(time.perf_counter() - started)
    rows = [{"mode": label, **percentiles(values)} for label, values in samples.items()]
    cached_rows = [{"mode": f"{label} (cached)", **percentiles(values)} for label, values in cached.items()]
    dense_p50 = next(r["p50_ms"] for r in rows if r["mode"] == "dense")
    dense_p95 = next(r["p95_ms"] for r in rows if r["mode"] == "dense")
    for row in rows:
        row["p50_vs_dense"] = round(row["p50_ms"] / dense_p50, 2)
        row["p95_vs_dense"] = round(row["p95_ms"] / dense_p95, 2)
    print(f"{len(asked)} questions x {args.repeat} passes, index {args.index} ({archive.stats()['documents']} documents)")
    print(table(rows, ["mode", "n", "p50_ms", "p95_ms", "mean_ms", "p50_vs_dense", "p95_vs_dense"]))
    print(table(cached_rows, ["mode", "n", "p50_ms", "p95_ms", "mean_ms"]))
    path = write_result("search_latency", {"index": args.index, "documents": archive.stats()["documents"],
                                           "questions": len(asked), "repeat": args.repeat, "threads": args.threads,
                                           "modes": rows, "cached_embedding": cached_rows}, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
