"""pgvector HNSW against FAISS IVF-SQ8 on 1,000,000 synthetic sentence-embedding-like vectors, and the size
at which PostgreSQL's exact scan gives way to HNSW (issue 11, item 5).

    .venv/bin/python bench/vectors_1m.py --url postgresql://postgres@127.0.0.1:54340/archive_qa_vectors \\
        --pgdata /tmp/pgbench/primary --n 1000000 --parts faiss pgvector threshold

Data: real all-MiniLM-L6-v2 vectors of the FRUS documents (`--source`, an index directory's vectors.npy)
are the seeds. Each synthetic vector is a point between a seed document and one of its 10 nearest real
neighbours (a share t ~ U(0, 0.5) of the way), plus Gaussian noise with the real vectors' covariance times
`--noise` (0.7), normalised: cosine ~0.86 to its point, pairwise cosine ~0.29 (real FRUS pairs: 0.34), a
query's nearest at ~0.80 (real FRUS documents' nearest: 0.77). `--queries` more are drawn the same way and
held out. Fixed seed. Ground truth: exact inner product (faiss.knn, flat).

Parts:
  faiss      IndexIVFScalarQuantizer (8-bit), nlist 4*sqrt(n) trained on 40 vectors a list, and the embedded
             store's own `vectors.build(..., "ivf-sq8")` (sqrt(n) lists, 64 a list); each at --nprobe.
  pgvector   a (id int, embedding vector(384)) table loaded by binary COPY in batches, then
             CREATE INDEX ... USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64)
             with --maintenance-work-mem and --workers parallel maintenance workers; each --ef-search.
             Exact scan latency (no index) on --exact-queries queries first.
  threshold  for each --sizes n: a table of the first n vectors, exact scan latency, HNSW build time, HNSW
             latency and recall@10 at each --ef-search; the crossover picks store/postgres.py EXACT_LIMIT.

Latency: one query at a time, one thread (FAISS omp 1; PostgreSQL one client on a loopback connection,
the query vector sent as text like the store does, server defaults otherwise, so the exact scan may use
parallel workers). recall@10: |top 10 found & true top 10| / 10 over all queries. Memory: FAISS index
bytes (serialised) and this process's RSS growth over the build; PostgreSQL pg_relation_size of table and
index, and the server's processes' RSS / PSS (`--pgdata`). Results are merged into --out part by part.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from benchlib import RESULTS, percentiles, proc_memory, write_result
from stores import server_memory

log = logging.getLogger("vectors_1m")
DIMENSION = 384


def seeds(source: Path) -> np.ndarray:
    """The real unit vectors of the index directory's current generation."""
    generation = source / "generations" / (source / "CURRENT").read_text().strip()
    return np.asarray(np.load(generation / "vectors.npy", mmap_mode="r"), dtype=np.float32)


def synthesize(real: np.ndarray, n: int, rng: np.random.Generator, noise: float, chunk: int = 100_000) -> np.ndarray:
    """n unit vectors near the real ones: along a line to a real neighbour, plus noise shaped like the data."""
    similarity = real @ real.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argsort(-similarity, axis=1)[:, :10]
    centred = real - real.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred.T))
    shape = (vectors * np.sqrt(np.clip(values, 0, None))).T.astype(np.float32)  # z @ shape ~ N(0, cov)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        i = rng.integers(0, len(real), m)
        j = neighbours[i, rng.integers(0, 10, m)]
        t = rng.uniform(0, 0.5, m).astype(np.float32)[:, None]
        x = (1 - t) * real[i] + t * real[j] + noise * (rng.standard_normal((m, real.shape[1]), dtype=np.float32) @ shape)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def recall(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Mean share of the true top k found in the top k."""
    return round(float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)])), 4)


def faiss_part(x: np.ndarray, q: np.ndarray, truth: np.ndarray, nprobes: list[int]) -> list[dict[str, Any]]:
    """IVF-SQ8 at 4*sqrt(n) lists and as the embedded store builds it."""
    from archive_qa.store import vectors as store_vectors

    n = len(x)
    rows = []
    for label in ("4*sqrt(n)", "store (sqrt(n))"):
        faiss.omp_set_num_threads(2)
        before = proc_memory()["rss_mib"]
        started = time.perf_counter()
        if label == "4*sqrt(n)":
            nlist = int(4 * np.sqrt(n))
            index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(DIMENSION), DIMENSION, nlist,
                                                  faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            sample = x[np.random.default_rng(1).choice(n, size=min(n, nlist * 40), replace=False)]
            index.train(sample)
            trained = time.perf_counter() - started
            index.add(x)
        else:
            index = store_vectors.build(x, "ivf-sq8")
            nlist = index.nlist
            trained = None
        build_s = time.perf_counter() - started
        growth = proc_memory()["rss_mib"] - before
        index_bytes = int(faiss.serialize_index(index).nbytes)
        faiss.omp_set_num_threads(1)
        for nprobe in nprobes:
            index.nprobe = nprobe
            _, found = index.search(q, 10)
            samples = []
            for row in q:
                started = time.perf_counter()
                index.search(row[None, :], 10)
                samples.append(time.perf_counter() - started)
            rows.append({"index": f"ivf-sq8 {label}", "nlist": nlist, "nprobe": nprobe, "recall_at_10": recall(found, truth),
                         **_latency(samples), "build_s": round(build_s, 1),
                         "train_s": None if trained is None else round(trained, 1), "index_mib": round(index_bytes / 2**20, 1),
                         "process_rss_growth_mib": round(growth, 1), "process_rss_mib": proc_memory()["rss_mib"]})
            log.info("faiss %s", rows[-1])
        del index
    return rows


def _latency(samples: list[float]) -> dict[str, float]:
    stats = percentiles(samples)
    return {"p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"], "mean_ms": stats["mean_ms"]}


def copy_binary(connection: Any, table: str, x: np.ndarray, batch: int = 50_000) -> None:
    """Load `x` as rows (id, embedding) with COPY ... FORMAT BINARY, pgvector's wire format, in batches."""
    row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i4"), ("vec_len", ">i4"), ("dim", ">i2"),
                    ("unused", ">i2"), ("vec", ">f4", (x.shape[1],))])
    with connection.cursor().copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8)
        for start in range(0, len(x), batch):
            part = x[start:start + batch]
            rows = np.empty(len(part), dtype=row)
            rows["fields"], rows["id_len"], rows["vec_len"] = 2, 4, 4 + 4 * x.shape[1]
            rows["id"] = np.arange(start, start + len(part))
            rows["dim"], rows["unused"], rows["vec"] = x.shape[1], 0, part
            copy.write(rows.tobytes())
        copy.write(b"\xff\xff")


def pg_search(connection: Any, table: str, q: np.ndarray, k: int = 10) -> tuple[np.ndarray, list[float]]:
    """Each query once, one at a time: the ids found and the seconds each took (client side)."""
    sql = f"SELECT id FROM {table} ORDER BY embedding <#> %s::vector LIMIT {int(k)}"
    found, samples = [], []
    for row in q:
        text = "[" + ",".join(f"{v:.7g}" for v in row) + "]"
        started = time.perf_counter()
        ids = [r[0] for r in connection.execute(sql, (text,), prepare=True).fetchall()]
        samples.append(time.perf_counter() - started)
        found.append(ids + [-1] * (k - len(ids)))
    return np.array(found), samples


def pg_table(connection: Any, table: str, x: np.ndarray) -> float:
    """A fresh vector table holding `x`; returns the load seconds (COPY + ANALYZE)."""
    connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.execute(f"CREATE TABLE {table} (id int NOT NULL, embedding vector({x.shape[1]}) NOT NULL)")
    started = time.perf_counter()
    copy_binary(connection, table, x)
    connection.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def pg_hnsw(connection: Any, table: str, args: argparse.Namespace, notices: list[str]) -> float:
    """Build the HNSW index; returns seconds."""
    connection.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    connection.execute(f"SET max_parallel_maintenance_workers = {int(args.workers)}")
    notices.clear()  # keep only what the build says (e.g. that the graph outgrew maintenance_work_mem)
    started = time.perf_counter()
    connection.execute(f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (embedding vector_ip_ops) "
                       "WITH (m = 16, ef_construction = 64)")
    seconds = time.perf_counter() - started
    log.info("HNSW on %s built in %.1f s; notices: %s", table, seconds, notices)
    return seconds


def size_mib(connection: Any, relation: str) -> float:
    return round(connection.execute("SELECT pg_relation_size(%s)", (relation,)).fetchone()[0] / 2**20, 1)


def exact(connection: Any, table: str, q: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Exact scan (no index used) latency on the queries given, one warm pass first: with the server's
    parallel query settings (as the store runs it), and on one process (max_parallel_workers_per_gather 0)."""
    connection.execute("SET enable_indexscan = off")
    text = "[" + ",".join(f"{v:.7g}" for v in q[0]) + "]"
    plan = connection.execute(f"EXPLAIN (FORMAT JSON) SELECT id FROM {table} ORDER BY embedding <#> %s::vector "
                              "LIMIT 10", (text,)).fetchone()[0]
    workers = _find(plan, "Workers Planned") or 0
    pg_search(connection, table, q[:10])
    found, samples = pg_search(connection, table, q)
    connection.execute("SET max_parallel_workers_per_gather = 0")
    pg_search(connection, table, q[:5])
    _, serial = pg_search(connection, table, q)
    connection.execute("RESET max_parallel_workers_per_gather")
    connection.execute("RESET enable_indexscan")
    return {"queries": len(q), "recall_at_10": recall(found, truth[:len(q)]), "workers_planned": workers,
            **_latency(samples), "serial": _latency(serial)}


def _find(plan: Any, key: str) -> Any:
    """The first value of `key` anywhere in an EXPLAIN (FORMAT JSON) tree."""
    if isinstance(plan, dict):
        if key in plan:
            return plan[key]
        plan = list(plan.values())
    if isinstance(plan, list):
        for item in plan:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def hnsw_settings(connection: Any, table: str, q: np.ndarray, truth: np.ndarray, efs: list[int]) -> list[dict[str, Any]]:
    rows = []
    for ef in efs:
        connection.execute(f"SET hnsw.ef_search = {int(ef)}")
        found, _ = pg_search(connection, table, q)  # warm pass, and the recall
        _, samples = pg_search(connection, table, q)
        rows.append({"ef_search": ef, "recall_at_10": recall(found, truth), **_latency(samples)})
        log.info("pgvector %s ef_search %d: %s", table, ef, rows[-1])
    connection.execute("RESET hnsw.ef_search")
    return rows


def connect(url: str, notices: list[str]) -> Any:
    import psycopg

    connection = psycopg.connect(url, autocommit=True)
    connection.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary))
    return connection


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")


def server_info(connection: Any) -> dict[str, Any]:
    names = ("server_version", "shared_buffers", "max_parallel_workers_per_gather", "max_parallel_maintenance_workers",
             "jit")
    info = {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in names}
    info["pgvector"] = connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    return info


def pgvector_part(x: np.ndarray, q: np.ndarray, truth: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    notices: list[str] = []
    table = f"bench_vectors_{len(x)}"
    with connect(args.url, notices) as connection:
        load_s = pg_table(connection, table, x)
        log.info("loaded %d vectors in %.1f s", len(x), load_s)
        exact_row = exact(connection, table, q[:args.exact_queries], truth)
        log.info("pgvector exact: %s", exact_row)
        build_s = pg_hnsw(connection, table, args, notices)
        rows = hnsw_settings(connection, table, q, truth, args.ef_search)
        result = {"n": len(x), "load_s": round(load_s, 1), "hnsw_build_s": round(build_s, 1),
                  "table_mib": size_mib(connection, table), "index_mib": size_mib(connection, f"{table}_hnsw"),
                  "maintenance_work_mem": args.maintenance_work_mem, "parallel_maintenance_workers": args.workers,
                  "notices": notices, "server": server_info(connection), "exact": exact_row, "hnsw": rows,
                  "server_memory_after_queries": server_memory(args.pgdata)}
        if not args.keep:
            connection.execute(f"DROP TABLE {table}")
    return result


def threshold_part(x: np.ndarray, q: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    queries = q[:args.threshold_queries]
    for n in args.sizes:
        if n > len(x):
            continue
        notices: list[str] = []
        _, truth = faiss.knn(queries, x[:n], 10, metric=faiss.METRIC_INNER_PRODUCT)
        table = f"bench_threshold_{n}"
        with connect(args.url, notices) as connection:
            load_s = pg_table(connection, table, x[:n])
            exact_row = exact(connection, table, queries, truth)
            build_s = pg_hnsw(connection, table, args, notices)
            row = {"n": n, "load_s": round(load_s, 1), "exact": exact_row, "hnsw_build_s": round(build_s, 1),
                   "index_mib": size_mib(connection, f"{table}_hnsw"),
                   "hnsw": hnsw_settings(connection, table, queries, truth, args.ef_search), "notices": notices}
            connection.execute(f"DROP TABLE {table}")
        rows.append(row)
        log.info("threshold %s", row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a postgresql:// database for the vector tables (created if missing)")
    parser.add_argument("--pgdata", type=Path, help="the server's data directory, for its memory")
    parser.add_argument("--source", type=Path, default=Path("/tmp/cond/frus"), help="index dir of the real seed vectors")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--noise", type=float, default=0.7)
    parser.add_argument("--parts", nargs="+", default=["faiss", "pgvector", "threshold"],
                        choices=["faiss", "pgvector", "threshold"])
    parser.add_argument("--nprobe", type=lambda s: [int(v) for v in s.split(",")], default=[8, 32, 64])
    parser.add_argument("--ef-search", type=lambda s: [int(v) for v in s.split(",")], default=[40, 100, 200])
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[2_000, 5_000, 10_000, 20_000, 30_000, 100_000, 300_000])
    parser.add_argument("--exact-queries", type=int, default=50, help="queries timed on the exact scan at --n")
    parser.add_argument("--threshold-queries", type=int, default=300)
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--workers", type=int, default=1, help="max_parallel_maintenance_workers (the leader also builds)")
    parser.add_argument("--keep", action="store_true", help="keep the n-vector table and its index")
    parser.add_argument("--out", type=Path, default=RESULTS / "vectors_1m.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if {"pgvector", "threshold"} & set(args.parts) and not args.url:
        parser.error("--url is needed for the pgvector and threshold parts")
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    real = seeds(args.source)
    data = synthesize(real, args.n + args.queries, rng, args.noise)
    x, q = data[:args.n], data[args.n:]
    generated = time.perf_counter() - started
    faiss.omp_set_num_threads(2)
    started = time.perf_counter()
    _, truth = faiss.knn(q, x, 10, metric=faiss.METRIC_INNER_PRODUCT)
    truth_s = time.perf_counter() - started
    top = np.einsum("ij,ij->i", q, x[truth[:, 0]])
    log.info("generated %d + %d vectors in %.1f s, truth in %.1f s", args.n, args.queries, generated, truth_s)
    previous: dict[str, Any] = {}
    if args.out.exists():
        previous = json.loads(args.out.read_text())
        if previous.get("data", {}).get("n") != args.n or previous.get("data", {}).get("seed") != args.seed:
            previous = {}
    result = {key: previous[key] for key in ("faiss", "pgvector", "threshold") if key in previous}
    result["data"] = {"n": args.n, "queries": args.queries, "seed": args.seed, "noise": args.noise,
                      "seed_vectors": len(real), "source": str(args.source), "generate_s": round(generated, 1),
                      "truth_s": round(truth_s, 1), "query_top1_cosine_median": round(float(np.median(top)), 3),
                      "process_rss_mib": proc_memory()["rss_mib"]}
    for part in args.parts:
        part_started = time.perf_counter()
        if part == "faiss":
            result["faiss"] = faiss_part(x, q, truth, args.nprobe)
        elif part == "pgvector":
            if args.url:
                ensure_database(args.url)
            result["pgvector"] = pgvector_part(x, q, truth, args)
        else:
            ensure_database(args.url)
            result["threshold"] = threshold_part(x, q, args)
        if isinstance(result[part], dict):
            result[part]["part_s"] = round(time.perf_counter() - part_started, 1)
        log.info("%s done in %.0f s", part, time.perf_counter() - part_started)
        write_result("vectors_1m", {**result, "command": " ".join(sys.argv)}, args.out)
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
