"""Ingest a corpus into a fresh index, then time warm searches: docs/s, efficiency vs the raw encoder, size, RSS, latency.

Run (from the repository root):
    .venv/bin/python bench/ingest_search.py                       # the 7,344-doc FRUS corpus in ../shared
    .venv/bin/python bench/ingest_search.py --limit 500           # a quick look while developing
    .venv/bin/python bench/ingest_search.py CORPUS.jsonl --eval ../shared/eval --device cuda --batch-size 256

Prints tables and writes bench/results/ingest_search.json. The raw encoder figure is
`SentenceTransformer.encode` over the same embedding texts with the same batch size, in the same process;
ingest efficiency = ingest docs/s / raw docs/s (issue 5 wants >= 90 %), from wall time (best of --rounds
alternations) and from the process's CPU time (which other processes on a shared box disturb less).
`non_encode_share_pct` is the share of ingest time spent outside the encoder (parsing, SQLite, FAISS, fsync).
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from archive_qa import embedding, settings
from archive_qa.archive import open_index
from archive_qa.indexing import ingest, read_batch

log = logging.getLogger("bench.ingest_search")


class EncodeTimer:
    """Times every Embedder.encode_documents call made during ingest (a pass-through wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = embedding.Embedder.encode_documents

    def __enter__(self) -> EncodeTimer:
        timer, original = self, self._original

        def timed(self_, texts, progress=None):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return original(self_, texts, progress)
            finally:
                timer.seconds += time.perf_counter() - start

        embedding.Embedder.encode_documents = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        embedding.Embedder.encode_documents = self._original  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(benchlib.FRUS), help="JSONL/JSON/CSV collection")
    parser.add_argument("--eval", nargs="+", default=[str(benchlib.EVAL)], help="eval *.jsonl files or directories")
    parser.add_argument("--index", help="where to build the index (default: a fresh temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the built index")
    parser.add_argument("--limit", type=int, help="ingest only the first N records")
    parser.add_argument("--model", default=settings.get("model"))
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--batch-size", type=int, default=settings.get("batch_size"))
    parser.add_argument("--repeats", type=int, default=5, help="cached passes over the questions per mode")
    parser.add_argument("--threads", type=int, default=1, help="torch/FAISS threads while searching (serve uses 1)")
    parser.add_argument("--rounds", type=int, default=1, help="alternate raw encoder and ingest N times; best of each")
    parser.add_argument("--skip-raw", action="store_true", help="do not time the raw encoder")
    parser.add_argument("--out", help="JSON output path (default bench/results/ingest_search.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    work = Path(tempfile.mkdtemp(prefix="archive-qa-bench-"))
    corpus = Path(args.corpus)
    if args.limit:
        lines = [ln for ln in corpus.read_text(encoding="utf-8").splitlines() if ln.strip()][: args.limit]
        corpus = work / f"first{args.limit}.jsonl"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = Path(args.index) if args.index else work / "index"
    if index.exists():
        raise SystemExit(f"{index} exists; the benchmark builds a fresh index (remove it or pick another path)")
    questions = benchlib.questions(args.eval)

    start = time.perf_counter()
    embedder = embedding.get_embedder(args.model, args.device, args.batch_size)  # the instance ingest and search share
    load_s = time.perf_counter() - start
    documents, errors = read_batch([corpus])
    texts = [d.embedding_text() for d in documents]
    embedder.encode_documents(texts[: args.batch_size * 2], progress=False)  # warm the kernels
    print(f"model {args.model} on {embedder.device} loaded in {load_s:.1f}s; {len(documents)} documents, "
          f"{len(errors)} bad records; batch size {args.batch_size}", file=sys.stderr)

    rounds = []
    for round_number in range(1, args.rounds + 1):
        row: dict = {"round": round_number}
        if not args.skip_raw:  # the raw encoder first, then ingest: alternating cancels slow drift in load
            wall, cpu = time.perf_counter(), time.process_time()
            embedder._model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
            row["raw_s"], row["raw_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
        target = index if round_number == args.rounds else work / f"round{round_number}"
        with EncodeTimer() as timer:
            wall, cpu = time.perf_counter(), time.process_time()
            report = ingest(target, [corpus], args.model, device=args.device, batch_size=args.batch_size,
                            progress=False)
            row["ingest_s"], row["ingest_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
        row["encode_in_ingest_s"] = timer.seconds
        if target != index:
            shutil.rmtree(target, ignore_errors=True)
        rounds.append(row)
    peak_after_ingest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    archive = open_index(index, device=args.device)
    assert archive.embedder is embedder, "ingest and search should share one model instance"
    stats = archive.stats()

    n = report.embedded
    best_ingest = min(r["ingest_s"] for r in rounds)
    best_raw = min(r["raw_s"] for r in rounds) if not args.skip_raw else None
    ingest_row = {
        "documents": n, "rounds": len(rounds), "ingest_s": round(best_ingest, 2),
        "ingest_docs_per_s": round(n / best_ingest, 1),
        "raw_docs_per_s": round(len(texts) / best_raw, 1) if best_raw else None,
        "efficiency_wall_pct": round(100 * (n / best_ingest) / (len(texts) / best_raw), 1) if best_raw else None,
        "efficiency_cpu_pct": round(100 * sum(r["raw_cpu_s"] for r in rounds) / sum(r["ingest_cpu_s"] for r in rounds)
                                    * n / len(texts), 1) if best_raw else None,
        "non_encode_share_pct": round(100 * sum(r["ingest_s"] - r["encode_in_ingest_s"] for r in rounds)
                                      / sum(r["ingest_s"] for r in rounds), 1),
        "index_mib": round(stats["bytes_on_disk"] / 2**20, 2), "peak_rss_mib": round(peak_after_ingest, 1),
    }
    print("\nIngest, each round: " + "; ".join(
        ", ".join(f"{k} {v:.1f}" for k, v in r.items() if k != "round") for r in rounds))
    print("\nIngest")
    print(benchlib.table([ingest_row], list(ingest_row)))

    # Answer on --threads math threads, as `archive-qa serve` does (OMP_NUM_THREADS=1).
    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    # Warm the query path (model, SQLite pages, FAISS) on questions that are not in the eval set.
    for warm in ("warm-up question about treaties", "the ambassador reported on the election", "1952"):
        archive.search(warm, k=10)
    latency_rows = []
    for mode in ("hybrid", "dense", "lexical"):
        embedder._cache.clear()
        first, cached = [], []
        for q in questions:
            start = time.perf_counter()
            archive.search(q["q"], k=10, date_from=q["filters"].get("date_from"),
                           date_to=q["filters"].get("date_to"), mode=mode)
            first.append(time.perf_counter() - start)
        for _ in range(args.repeats):
            for q in questions:
                start = time.perf_counter()
                archive.search(q["q"], k=10, date_from=q["filters"].get("date_from"),
                               date_to=q["filters"].get("date_to"), mode=mode)
                cached.append(time.perf_counter() - start)
        for label, samples in (("new question", first), ("repeated (cached embedding)", cached)):
            latency_rows.append({"mode": mode, "questions": label, **benchlib.percentiles(samples)})
    print(f"\nWarm search latency, k=10, {args.threads} thread(s), {len(questions)} questions (eval filters applied), "
          f"{stats['documents']} documents, index {stats['index_type']}")
    print(benchlib.table(latency_rows, ["mode", "questions", "n", "p50_ms", "p95_ms", "p99_ms", "max_ms"]))

    final_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = benchlib.write_result("ingest_search", {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "corpus": str(args.corpus), "limit": args.limit, "model": args.model, "device": embedder.device,
        "batch_size": args.batch_size, "query_threads": args.threads, "model_load_s": round(load_s, 2), "bad_records": len(errors),
        "ingest": ingest_row, "rounds": rounds, "index": stats, "latency": latency_rows, "peak_rss_mib_end": round(final_peak, 1),
    }, args.out)
    print(f"\nwrote {path}")
    archive.store.close()
    if args.keep:
        print(f"index kept at {index}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
