"""Both stores side by side in one run: ingest time, warm search latency (p50/p95) and memory, on one index
and its PostgreSQL copy.

    .venv/bin/python bench/stores.py --index /tmp/cond/frus \\
        --store postgresql://postgres@127.0.0.1:54340/archive_qa_stores --ingest

Ingest (`--ingest`): the documents and vectors of `--index` are read once (not timed), then each store's
writer publishes that same collection, in a fresh process each (spawned, so the search numbers below
are not measured in a process that held the whole collection): the embedded `EmbeddedWriter.publish`
into a new directory (SQLite tables + FTS5, the FAISS index, the manifest, CURRENT) and
`PostgresWriter.publish` into the `--store` database (COPY of documents, people, places, postings and
term statistics, their indexes, ANALYZE, the pointer move). Parsing the files, finding places and
embedding are the same code for both stores and are not timed: the vectors are reused, so the time is
the store's. Without `--ingest` the `--store` database must already hold the collection
(bench/conditions.py --store makes such copies).

Search: each question of the FRUS and WCDA dev sets is asked once per store and mode to warm both, then
`--rounds` times, alternating stores, so load from other work falls on both alike. Modes: hybrid and
dense through `Archive.search` (warm: the encoder's query cache holds each question's vector after the
warm-up, so these are store + ranking times), and the store's own k-NN (`store.dense`, k = 10, the
query vector encoded beforehand), the part the two backends do most differently.

Memory: this process's RSS after loading the encoder, after opening and warming the embedded archive,
and after opening and warming the PostgreSQL one (the growth at each step is that store's client-side
share); the PostgreSQL server's processes (the postmaster of `--pgdata` and its children: backends,
checkpointer, ...) summed as RSS (counts shared buffers once per process that touched them) and as
PSS (shared pages split among the processes that map them).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from benchlib import EVAL, percentiles, proc_memory, write_result

from archive_qa.archive import Archive
from archive_qa.evaluation import load_qrels

log = logging.getLogger("stores")
MODES = ("hybrid", "dense")


def server_memory(pgdata: Path | None) -> dict[str, Any] | None:
    """RSS and PSS (MiB) summed over the PostgreSQL processes of one data directory, and how many there are."""
    if pgdata is None:
        return None
    try:
        postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    except (OSError, ValueError, psutil.Error):
        return None
    rss = pss = 0.0
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        memory = proc_memory(process.pid)
        rss += memory.get("rss_mib", 0.0)
        pss += memory.get("pss_mib", 0.0)
    return {"processes": len(processes), "rss_mib": round(rss, 1), "pss_mib": round(pss, 1)}


def _ingest(kind: str, index: str, target: str, queue: Any) -> None:
    """In a fresh process: read the collection of `index`, then time one store's publish of it into `target`."""
    from archive_qa.store import Store
    from archive_qa.store.postgres import PostgresWriter
    from archive_qa.store.store import EmbeddedWriter

    source = Store.open(Path(index))
    documents = [doc for _, doc, _ in source.iter_documents()]
    vectors = source.vectors_of(range(source.count()))
    model = source.model
    source.close()
    before = proc_memory()
    writer = EmbeddedWriter(target) if kind == "embedded" else PostgresWriter(target)
    started = time.perf_counter()
    with writer.lock():
        writer.publish(documents, vectors, model)
    seconds = time.perf_counter() - started
    queue.put({"documents": len(documents), "seconds": round(seconds, 2), "rss_before_mib": before.get("rss_mib"),
               "peak_rss_mib": proc_memory().get("peak_rss_mib")})


def ingest(kind: str, index: Path, target: str) -> dict[str, Any]:
    """One store's publish of the collection, timed in a spawned process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_ingest, args=(kind, str(index), target, queue))
    process.start()
    result = queue.get()
    process.join()
    log.info("%s ingest: %s", kind, result)
    return result


def fresh_database(url: str) -> None:
    """Drop and create the database `url` names, so the ingest writes into an empty one."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--store", required=True, help="the postgresql:// URL of the same collection (or, with "
                        "--ingest, of a database to drop and write it into)")
    parser.add_argument("--pgdata", type=Path, help="the primary's data directory, for its memory")
    parser.add_argument("--ingest", action="store_true", help="time both stores' ingest of the collection first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="result JSON (default bench/results/stores.json)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result: dict[str, Any] = {"index": str(args.index), "rounds": args.rounds}
    embedded_dir = args.index
    scratch = None
    if args.ingest:
        scratch = Path(tempfile.mkdtemp(prefix="stores-embedded-"))
        embedded_dir = scratch / "index"
        fresh_database(args.store)
        result["ingest"] = {"what": "writer.publish of the stored documents and vectors (no parsing, no "
                                    "embedding), in a fresh process each",
                            "embedded": ingest("embedded", args.index, str(embedded_dir)),
                            "postgres": ingest("postgres", args.index, args.store)}
        result["ingest"]["postgres"]["database_bytes"] = database_size(args.store)
        result["ingest"]["embedded"]["directory_bytes"] = sum(
            p.stat().st_size for p in embedded_dir.rglob("*") if p.is_file())
    questions = [j.q for name in ("frus_dev_qrels.jsonl", "wcda_dev_qrels.jsonl") for j in load_qrels(EVAL / name)]
    from archive_qa.embedding import get_embedder
    from archive_qa.store import Store

    embedder = get_embedder(Store.open(args.index).model)
    vectors = [embedder.encode_query(q) for q in questions]
    memory = {"after_encoder": proc_memory()}
    stores: dict[str, Archive] = {}
    for name, archive in (("embedded", lambda: Archive(embedded_dir)),
                          ("postgres", lambda: Archive(args.index, store=args.store))):
        stores[name] = archive()
        for question, vector in zip(questions, vectors):
            for mode in MODES:
                stores[name].search(question, k=10, mode=mode)
            stores[name].store.dense(vector, 10)
        memory[f"after_{name}"] = proc_memory()
    times: dict[str, dict[str, list[float]]] = {n: {m: [] for m in (*MODES, "knn")} for n in stores}
    for _ in range(args.rounds):
        for question, vector in zip(questions, vectors):
            for name, archive in stores.items():
                for mode in MODES:
                    started = time.perf_counter()
                    archive.search(question, k=10, mode=mode)
                    times[name][mode].append(time.perf_counter() - started)
                started = time.perf_counter()
                archive.store.dense(vector, 10)
                times[name]["knn"].append(time.perf_counter() - started)
    memory["server"] = server_memory(args.pgdata)
    for name in stores:
        growth = memory[f"after_{name}"]["rss_mib"] - memory["after_encoder" if name == "embedded" else
                                                              "after_embedded"]["rss_mib"]
        memory[f"{name}_client_growth_mib"] = round(growth, 1)
    result.update({"documents": stores["embedded"].store.count(), "questions": len(questions), "memory": memory,
                   "search": {name: {mode: percentiles(samples) for mode, samples in by_mode.items()}
                              for name, by_mode in times.items()}})
    for archive in stores.values():
        archive.store.close()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    path = write_result("stores", result, args.out)
    print(path.read_text())
    return 0


def database_size(url: str) -> int:
    """pg_database_size of the database `url` names."""
    import psycopg

    with psycopg.connect(url) as connection:
        return int(connection.execute("SELECT pg_database_size(current_database())").fetchone()[0])


if __name__ == "__main__":
    sys.exit(main())
