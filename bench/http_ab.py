"""A/B of server builds over loopback HTTP: one `archive-qa serve` per source tree, new dev questions in blocks.

Each source tree (a checkout's `src/`, e.g. a `git worktree` of an older commit) gets its own server on the same
index, started with PYTHONPATH set to it. Every round asks each server all the dev questions once, with a
suffix that makes each text new, and the order of the servers rotates from round to round. Questions go in
blocks, not one by one across servers: two servers answering in turn evict each other's caches, which makes
both look slower than either is alone. Reports p50, p95 and mean latency to the last byte and the server's
CPU per question (all its threads). `SRC@NAME=VALUE` sets an environment variable for that server only.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/http_ab.py --index /tmp/cond/frus /tmp/before/src src
    .venv/bin/python bench/http_ab.py --index /tmp/cond/frus --modes dense src src@ARCHIVE_QA_MALLOC_TRIM=0

A tree checked out without the bundled `web/` needs it beside its `src/` (a symlink will do).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import benchlib
from compare_txtai import free_port, process_cpu_s, settled

from archive_qa.evaluation import load_qrels

QRELS = ("frus_dev_qrels.jsonl", "seed_dev_qrels.jsonl", "wcda_dev_qrels.jsonl")


def start(source: str, index: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A server over `index` from the source tree `source` (`SRC@NAME=VALUE` adds to its environment)."""
    tree, _, assignment = source.partition("@")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(tree).resolve()))
    if assignment:
        name, _, value = assignment.partition("=")
        env[name] = value
    port = free_port()
    command = [sys.executable, "-m", "archive_qa.cli", "serve", "--index", str(index), "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port


def ask(connection: http.client.HTTPConnection, question: str, mode: str) -> float:
    """Seconds for one GET /api/search, to the last byte of a 200."""
    started = time.perf_counter()
    connection.request("GET", "/api/search?" + urllib.parse.urlencode({"q": question, "k": 10, "mode": mode}))
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{question!r} answered {response.status}: {body[:200]!r}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", help="source trees (SRC or SRC@NAME=VALUE), one server each")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--modes", nargs="+", default=["dense", "hybrid"])
    parser.add_argument("--rounds", type=int, default=4, help="passes over the questions per server")
    parser.add_argument("--eval", type=Path, default=benchlib.EVAL)
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS / "http_ab.json")
    args = parser.parse_args()
    questions = [judged.q for name in QRELS for judged in load_qrels(args.eval / name)]
    servers = [start(source, args.index) for source in args.sources]
    rows = []
    try:
        for server, port in servers:
            deadline = time.monotonic() + 300
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/healthz")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"the server on port {port} did not start") from None
                    time.sleep(0.2)
        for mode in args.modes:
            connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _, port in servers]
            for connection in connections:
                ask(connection, "warm-up question about treaties", mode)
            for server, _ in servers:
                settled(server.pid)  # each server's start-up work (facet counts) is done
            samples: list[list[float]] = [[] for _ in servers]
            cpu = [process_cpu_s(server.pid) for server, _ in servers]
            for round_ in range(args.rounds):
                for offset in range(len(servers)):
                    at = (round_ + offset) % len(servers)
                    samples[at] += [ask(connections[at], f"{q} ({mode} {round_})", mode) for q in questions]
            for at, source in enumerate(args.sources):
                ordered = sorted(samples[at])
                rows.append({"source": source, "mode": mode, "questions": len(ordered),
                             "p50_ms": round(1000 * statistics.median(ordered), 2),
                             "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
                             "mean_ms": round(1000 * statistics.mean(ordered), 2),
                             "server_cpu_ms_per_question": round(
                                 1000 * (process_cpu_s(servers[at][0].pid) - cpu[at]) / len(ordered), 2)})
            for connection in connections:
                connection.close()
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(timeout=30)
    print(benchlib.table(rows, ["source", "mode", "questions", "p50_ms", "p95_ms", "mean_ms",
                                "server_cpu_ms_per_question"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]),
                                    "machine": benchlib.machine(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
