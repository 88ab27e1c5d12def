"""Bounded load test on loopback: `archive-qa serve` over an index, ~5,000 mixed requests 16 at a time.

Run (from the repository root; the index must exist, e.g. the FRUS corpus ingested into /tmp/frus_index):
    .venv/bin/python bench/load.py --index /tmp/frus_index                  # 1 worker, then 2 workers
    .venv/bin/python bench/load.py --index index --requests 500 --workers 1  # quick look on the bundled data

For each worker count it starts the server on 127.0.0.1 on a free port, sends the requests (GET and POST
/api/search with and without date filters, GET /api/documents/ID, and POST /api/ask when the server has
it), counts every non-2xx answer or transport failure as an error, and stops the server. It reports
p50/p99 latency and requests/s per kind, and each server process's RSS, PSS and USS (/proc/PID/smaps_rollup),
plus how much of the index's files each process maps and how much of that is shared. Writes
bench/results/load.json. Bounded: --requests per run and --max-seconds per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import benchlib

TEMPLATES = ("{q}", "{q} Cite the documents.", "Tell me: {q}", "{q} (with sources)", "Question: {q}",
             "{q} What do the records say?", "Please answer: {q}", "{q} Summarise briefly.")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_index() -> str:
    """The shared FRUS index where it was built, else the repository's index/."""
    return "/tmp/frus_index" if Path("/tmp/frus_index/CURRENT").exists() else str(benchlib.ROOT / "index")


def server_processes(pid: int) -> list[int]:
    """The server's process and all its descendants (uvicorn workers and their spawned helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def mapped_files(pid: int, under: str) -> dict[str, float]:
    """Rss and Pss (MiB) of the file mappings of `pid` whose path lies under `under`."""
    rss = pss = 0
    inside = False
    try:
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                inside = len(head) >= 6 and head[5].startswith(under)
            elif inside and line.startswith("Rss:"):
                rss += int(head[1])
            elif inside and line.startswith("Pss:"):
                pss += int(head[1])
    except OSError:
        pass
    return {"index_rss_mib": round(rss / 1024, 1), "index_pss_mib": round(pss / 1024, 1)}


def request_plan(questions: list[dict[str, Any]], count: int, ask: bool, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` (kind, params) pairs: a fixed, seeded mix of search, document and ask requests."""
    rng = random.Random(seed)
    texts = [(t.format(q=q["q"]), q["filters"]) for q in questions for t in TEMPLATES]
    weights = {"search_get": 45, "search_post": 20, "search_filtered": 15, "document": 10, "ask": 10 if ask else 0}
    kinds = rng.choices(list(weights), weights=list(weights.values()), k=count)
    plan = []
    for kind in kinds:
        text, filters = rng.choice(texts)
        params: dict[str, Any] = {"q": text, "k": rng.choice((5, 10, 10, 20))}
        if kind == "search_filtered":
            params.update(filters or {"date_from": rng.choice(("1949", "1951-06", "1953")),
                                      "date_to": rng.choice(("1954", "1956-12", "1960"))})
        plan.append((kind, params))
    return plan


async def run_load(base: str, plan: list[tuple[str, dict[str, Any]]], concurrency: int, max_seconds: float,
                   doc_ids: list[str]) -> dict[str, Any]:
    """Send the plan `concurrency` at a time; time each request; stop at the end or the deadline."""
    samples: dict[str, list[float]] = {}
    errors: list[str] = []
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def one(kind: str, params: dict[str, Any]) -> None:
            if kind in ("search_get", "search_filtered"):
                response = await client.get("/api/search", params=params)
            elif kind == "search_post":
                response = await client.post("/api/search", json=params)
            elif kind == "document":
                response = await client.get(f"/api/documents/{random.choice(doc_ids)}")
            else:
                response = await client.post("/api/ask", json={"question": params["q"],
                                                                "filters": {"k": min(params["k"], 10)}})
            if response.status_code >= 300:
                errors.append(f"{kind} {response.status_code}: {response.text[:200]}")

        async def worker() -> None:
            while time.perf_counter() < deadline:
                try:
                    kind, params = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    await one(kind, params)
                except httpx.HTTPError as error:
                    errors.append(f"{kind} {type(error).__name__}: {error}")
                samples.setdefault(kind, []).append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    done = sum(len(v) for v in samples.values())
    return {"requests": done, "planned": len(plan), "seconds": round(elapsed, 2),
            "requests_per_s": round(done / elapsed, 1), "errors": len(errors), "error_samples": errors[:5],
            "stopped_by_deadline": done < len(plan),
            "all": benchlib.percentiles([s for v in samples.values() for s in v]),
            "by_kind": {k: benchlib.percentiles(v) for k, v in sorted(samples.items())}}


def start_server(index: str, workers: int, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`archive-qa serve` on loopback, in its own process group."""
    exe = Path(sys.executable).with_name("archive-qa")
    command = [str(exe), "serve", "--index", index, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.Popen(command, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def wait_ready(base: str, process: subprocess.Popen[bytes], workers: int, timeout: float) -> None:
    """Wait until /healthz answers and every worker process is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}; see its log")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                # Every worker loads the model on start; give each a request so all are warm.
                if workers == 1 or len(server_processes(process.pid)) >= workers + 1:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not become ready within {timeout:.0f}s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def one_run(args: argparse.Namespace, workers: int, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Start a server with `workers` workers, warm it, load it, measure its memory, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = benchlib.RESULTS / f"load-server-w{workers}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process = start_server(args.index, workers, port, log_path)
    try:
        wait_ready(base, process, workers, args.startup_timeout)
        probe = httpx.post(f"{base}/api/ask", json={"question": questions[0]["q"]}, timeout=60)
        ask = probe.status_code == 200
        seed_search = httpx.get(f"{base}/api/search", params={"q": questions[0]["q"], "k": 50}, timeout=60).json()
        doc_ids = [r["id"] for r in seed_search["results"]] or ["missing"]
        warm = request_plan(questions, args.warmup, ask, seed=args.seed + 1)  # other texts' order; warms workers
        asyncio.run(run_load(base, warm, args.concurrency, args.max_seconds, doc_ids))
        plan = request_plan(questions, args.requests, ask, seed=args.seed)
        result = asyncio.run(run_load(base, plan, args.concurrency, args.max_seconds, doc_ids))
        index_root = str(Path(args.index).resolve())
        memory = []
        for pid in server_processes(process.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
                memory.append({"pid": pid, "cmd": cmd, **benchlib.proc_memory(pid), **mapped_files(pid, index_root)})
            except OSError:
                continue
        result.update(workers=workers, ask_endpoint=ask, ask_probe_status=probe.status_code, processes=memory,
                      total_rss_mib=round(sum(m.get("rss_mib", 0) for m in memory), 1),
                      total_pss_mib=round(sum(m.get("pss_mib", 0) for m in memory), 1))
        return result
    finally:
        stop_server(process)


def main(argv: list[str] | None = None) -> int:
    """Run the load test for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=default_index(), help="a built index directory")
    parser.add_argument("--eval", nargs="+", default=[str(benchlib.EVAL)], help="eval *.jsonl files or directories")
    parser.add_argument("--requests", type=int, default=5000, help="requests per run")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts, one run each")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop a run after this long")
    parser.add_argument("--startup-timeout", type=float, default=180)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="JSON output path (default bench/results/load.json)")
    args = parser.parse_args(argv)
    if not (Path(args.index) / "CURRENT").exists():
        raise SystemExit(f"no index in {args.index}; build one with `archive-qa ingest FILE --index {args.index}`")
    questions = benchlib.questions(args.eval)
    distinct = len({t.format(q=q["q"]) for q in questions for t in TEMPLATES})
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        print(f"workers={workers}: {args.requests} requests, {args.concurrency} at a time ...", file=sys.stderr)
        runs.append(one_run(args, workers, questions))
        run = runs[-1]
        rows = [{"kind": "all", **run["all"]}] + [{"kind": k, **v} for k, v in run["by_kind"].items()]
        print(f"\nworkers={workers}: {run['requests']} requests in {run['seconds']}s = {run['requests_per_s']} req/s, "
              f"{run['errors']} errors; /api/ask {'included' if run['ask_endpoint'] else 'absent'}")
        print(benchlib.table(rows, ["kind", "n", "p50_ms", "p95_ms", "p99_ms", "max_ms"]))
        print(benchlib.table(run["processes"], ["pid", "rss_mib", "pss_mib", "uss_mib", "shared_mib",
                                                "index_rss_mib", "index_pss_mib", "cmd"]))
        print(f"total RSS {run['total_rss_mib']} MiB, total PSS {run['total_pss_mib']} MiB")
        if run["error_samples"]:
            print("errors:", *run["error_samples"], sep="\n  ")
    stats = json.loads(subprocess.run([str(Path(sys.executable).with_name("archive-qa")), "stats", "--index",
                                       args.index, "--json"], capture_output=True, text=True).stdout or "{}")
    path = benchlib.write_result("load", {
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "index": args.index, "index_stats": stats,
        "concurrency": args.concurrency, "distinct_question_texts": distinct, "runs": runs,
    }, args.out)
    print(f"\nwrote {path}")
    return 1 if any(r["errors"] for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
