"""Both stores side by side in one run: warm search latency (p50/p95) and memory, on one index and its
PostgreSQL copy (bench/conditions.py --store makes the copies).

    .venv/bin/python bench/stores.py --index /tmp/conditions/frus \\
        --store postgresql://postgres@127.0.0.1:54320/archive_qa_cond_frus

Each question of the FRUS and WCDA dev sets is asked once to warm both, then `--rounds` times per store,
alternating stores, so load from other work falls on both alike. Server RSS is the sum over the
PostgreSQL processes whose data directory is under `--pgdata` (the primary's), read with psutil.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import psutil
from benchlib import EVAL, machine

from archive_qa.archive import Archive
from archive_qa.evaluation import load_qrels

log = logging.getLogger("stores")


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def server_rss(pgdata: Path | None) -> int | None:
    """Bytes resident in the PostgreSQL processes of one data directory."""
    if pgdata is None:
        return None
    total = 0
    for process in psutil.process_iter(["name", "cmdline", "memory_info"]):
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(process.info["cmdline"] or []):
            total += process.info["memory_info"].rss
            for child in process.children(recursive=True):
                total += child.memory_info().rss
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--store", required=True, help="the postgresql:// URL of the same collection")
    parser.add_argument("--pgdata", type=Path, help="the primary's data directory, for its RSS")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    questions = [j.q for name in ("frus_dev_qrels.jsonl", "wcda_dev_qrels.jsonl") for j in load_qrels(EVAL / name)]
    stores = {"embedded": Archive(args.index), "postgres": Archive(args.index, store=args.store)}
    for archive in stores.values():
        for question in questions:
            archive.search(question, k=10)
    times: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(args.rounds):
        for question in questions:
            for name, archive in stores.items():
                started = time.perf_counter()
                archive.search(question, k=10)
                times[name].append((time.perf_counter() - started) * 1000)
    rss = psutil.Process().memory_info().rss
    result = {"machine": machine(), "questions": len(questions), "rounds": args.rounds,
              "client_rss_bytes": rss, "server_rss_bytes": server_rss(args.pgdata),
              **{name: {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 0.95), 1)}
                 for name, ms in times.items()}}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
