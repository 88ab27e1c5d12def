"""Faults: kill -9, ctrl-C, a full disk and damaged files never cost the published index.

The signal-while-embedding test runs on both stores (`store_kind`, conftest); a kill -9 while PostgreSQL
writes is in tests/test_postgres_store.py. The rest are about files on disk (a big synthetic generation being
written, file size limits, damaged SQLite, FAISS and manifest files), embedded only.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from archive_qa import open_index
from archive_qa.documents import Document
from archive_qa.indexing import ingest, reindex
from archive_qa.store import IndexCorruptError, Store
from archive_qa.store.check import check_index
from archive_qa.store.layout import current_generation
from archive_qa.store.store import write_generation
from conftest import MODEL, ROOT, Collection, write_jsonl

BIG = 20_000  # documents in the synthetic index: large enough that writing a generation takes a while


def published(index: Path) -> dict[str, str]:
    """Every published file (CURRENT and finished generations) with its content hash."""
    return {str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(index.rglob("*"))
            if p.is_file() and p.name != ".lock" and not any(part.startswith(".tmp-") for part in p.parts)}


def unfinished(index: Path) -> list[str]:
    """Names of generations an interrupted writer left behind."""
    return sorted(p.name for p in (index / "generations").glob(".tmp-*"))


def cli(*args: str, **popen: object) -> subprocess.Popen[str]:
    """The real `archive-qa` in a fresh process, stderr piped."""
    return subprocess.Popen([sys.executable, "-m", "archive_qa.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, **popen)


def run_cli(*args: str, **popen: object) -> tuple[int, str, str]:
    """Run the CLI to the end: (exit status, stdout, stderr)."""
    process = cli(*args, **popen)
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def new_records(tmp_path: Path, count: int, tag: str) -> Path:
    """A collection of `count` new, valid records."""
    return write_jsonl(tmp_path / f"{tag}.jsonl", [
        {"id": f"{tag}-{i}", "date": f"1952-{1 + i % 12:02d}-{1 + i % 28:02d}",
         "summary": f"Telegram {i} on the {tag} talks about prisoners of war, airfields and the armistice line."}
        for i in range(count)])


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic 20,000-document index (random unit vectors, real SQLite and FAISS); read-only."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(BIG, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = np.array("armistice Kaesong Panmunjom truce prisoners Formosa Stalin Mao Zhou Acheson Ridgway "
                     "airfield convoy memorandum telegram delegation".split())
    documents = [Document(id=f"big-{i}", date=None, summary=" ".join(rng.choice(words, 40)) + f" item {i}")
                 for i in range(BIG)]
    path = tmp_path_factory.mktemp("big") / "index"
    write_generation(path, documents, vectors, MODEL)
    return path


@pytest.fixture
def big_copy(big_index: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic index."""
    target = tmp_path / "big"
    shutil.copytree(big_index, target)
    return target


def wait_for(condition, process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Poll until `condition()` holds; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the ingest ended before the fault: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting for the ingest to reach the fault point"
        time.sleep(0.005)


def stderr_lines(process: subprocess.Popen[str]) -> list[str]:
    """Collect the process's stderr lines in the background."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
    return lines


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["kill-9", "ctrl-c", "kill"])
def test_signal_while_writing_leaves_the_old_index_serving(big_copy: Path, tmp_path: Path, embedder,
                                                          sig: signal.Signals) -> None:
    before = published(big_copy)
    process = cli("ingest", str(new_records(tmp_path, 1, "late")), "--index", str(big_copy))
    lines = stderr_lines(process)
    wait_for(lambda: any((p / "documents.sqlite").exists() for p in (big_copy / "generations").glob(".tmp-*")),
             process)
    process.send_signal(sig)
    process.wait(timeout=60)
    assert published(big_copy) == before
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
        assert len(unfinished(big_copy)) == 1  # killed mid-write: its leftovers are still there
        assert "unfinished" in " ".join(check_index(big_copy).notes)
    else:
        assert process.returncode == 130, lines
        assert "interrupted; the index is as it was before" in "".join(lines)
        assert unfinished(big_copy) == []  # ctrl-C and a plain kill clean up after themselves
    archive = open_index(big_copy)
    assert archive.stats()["documents"] == BIG
    assert len(archive.search("armistice at Panmunjom", k=5)["results"]) == 5
    report = ingest(big_copy, [new_records(tmp_path, 2, "next")], MODEL, progress=False)
    assert report.total == BIG + 2 and report.embedded == 2
    assert unfinished(big_copy) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_signal_while_embedding_leaves_the_index_byte_for_byte(seed_on: Collection, tmp_path: Path,
                                                               sig: signal.Signals) -> None:
    def state() -> object:  # every published file, or every generation of the server
        return published(seed_on.index) if seed_on.url is None else seed_on.generations()

    before = state()
    process = cli("ingest", str(new_records(tmp_path, 3000, "many")), *seed_on.args())
    lines = stderr_lines(process)
    wait_for(lambda: any("embedding 3000 document(s)" in line for line in lines), process)
    time.sleep(0.5)
    process.send_signal(sig)
    process.wait(timeout=60)
    assert process.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    assert state() == before
    if seed_on.url is None:
        assert unfinished(seed_on.index) == []
    assert seed_on.archive().search("neutral countries", k=1)["results"][0]["id"] == "seed-03"


@pytest.mark.parametrize("limit,stage", [(8 * 1024, "disk I/O error"), (250 * 1024, "requested and")],
                         ids=["database-fails", "vectors-fail"])
def test_full_disk_publishes_nothing_and_leaves_nothing(seed_copy: Path, tmp_path: Path, embedder,
                                                       limit: int, stage: str) -> None:
    """RLIMIT_FSIZE makes writes past `limit` bytes fail with EFBIG, as on a full disk."""
    before = published(seed_copy)
    records = new_records(tmp_path, 200, "disk")

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    status, _, err = run_cli("ingest", str(records), "--index", str(seed_copy), preexec_fn=small_files)
    assert status == 2, err
    assert "nothing was published and the previous index is unchanged" in err
    assert stage in err  # the write failed where intended: in SQLite, or in the vector files after it
    assert published(seed_copy) == before and unfinished(seed_copy) == []
    assert open_index(seed_copy).stats()["documents"] == 10
    assert ingest(seed_copy, [records], MODEL, progress=False).added == 200  # the next run succeeds
    assert unfinished(seed_copy) == [] and check_index(seed_copy).ok


def damage(path: Path, how: str) -> None:
    """Truncate a file, overwrite its start, or overwrite its middle keeping its size."""
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garble-start":
        path.write_bytes((b"\x00garbage\xff" * 5)[:40] + data[40:])
    else:
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 64]) + data[middle + 64:])


@pytest.mark.parametrize("name,how", [
    ("vectors.faiss", "truncate"), ("vectors.faiss", "garble-start"), ("vectors.npy", "truncate"),
    ("documents.sqlite", "truncate"), ("manifest.json", "truncate"), ("manifest.json", "garble-start"),
    ("CURRENT", "garble-start"), ("CURRENT", "delete"),
])
def test_damaged_file_is_named_and_reindex_repairs_it(seed_copy: Path, name: str, how: str) -> None:
    generation = current_generation(seed_copy)
    path = seed_copy / name if name == "CURRENT" else generation / name
    if how == "delete":
        path.unlink()
    else:
        damage(path, how)
    with pytest.raises(IndexCorruptError) as error:
        open_index(seed_copy)
    assert str(path) in str(error.value) and "archive-qa reindex" in str(error.value)
    report = check_index(seed_copy)
    assert not report.ok and str(path) in " ".join(report.problems)
    if name == "documents.sqlite":  # the documents themselves are lost: only a fresh ingest brings them back
        with pytest.raises(IndexCorruptError, match="archive-qa ingest FILE"):
            reindex(seed_copy, MODEL, progress=False)
        return
    assert reindex(seed_copy, MODEL, progress=False).embedded == 10
    assert check_index(seed_copy).ok
    assert open_index(seed_copy).search("neutral countries", k=1)["results"][0]["id"] == "seed-03"


def test_altered_bytes_are_caught_by_check_and_the_cli_says_how_to_rebuild(seed_copy: Path) -> None:
    status, out, _ = run_cli("check", "--index", str(seed_copy))
    assert status == 0 and out.startswith("ok:") and "10 documents" in out
    faiss_file = current_generation(seed_copy) / "vectors.faiss"
    damage(faiss_file, "garble-middle")  # same size: only the checksum can tell
    status, _, err = run_cli("check", "--index", str(seed_copy))
    assert status == 1
    assert f"{faiss_file}: content differs from its checksum" in err and "archive-qa reindex" in err
    damage(current_generation(seed_copy) / "vectors.npy", "truncate")
    status, _, err = run_cli("search", "neutral countries", "--index", str(seed_copy))
    assert status == 2 and "vectors.npy is" in err and "archive-qa reindex" in err
    status, out, err = run_cli("reindex", "--index", str(seed_copy))
    assert status == 0, err
    assert run_cli("check", "--index", str(seed_copy))[0] == 0


def test_garbled_database_says_to_reingest(seed_copy: Path) -> None:
    database = current_generation(seed_copy) / "documents.sqlite"
    damage(database, "garble-start")
    with pytest.raises(IndexCorruptError, match="documents.sqlite is damaged .*archive-qa ingest FILE"):
        Store.open(seed_copy)
    with pytest.raises(IndexCorruptError, match="with the original collection files"):
        reindex(seed_copy, MODEL, progress=False)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real full disk (needs root and a kernel that lets us mount; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE test covers the same path")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)  # open handles of the test may remain


def test_a_really_full_disk_publishes_nothing(tiny_disk: Path, seed_index: Path, tmp_path: Path) -> None:
    from archive_qa.store import IndexWriteError

    index = tiny_disk / "index"
    shutil.copytree(seed_index, index)
    before = published(index)
    with pytest.raises(IndexWriteError, match="nothing was published"):
        ingest(index, [new_records(tmp_path, 150, "full")], MODEL, progress=False)
    assert published(index) == before and unfinished(index) == []
    assert open_index(index).search("neutral countries", k=1)["results"][0]["id"] == "seed-03"
    subprocess.run(["mount", "-o", "remount,size=4m", str(tiny_disk)], check=True)  # space freed
    assert ingest(index, [new_records(tmp_path, 150, "full")], MODEL, progress=False).total == 160
    assert unfinished(index) == [] and check_index(index).ok


def test_a_damaged_page_found_only_when_read_is_a_503_naming_the_file(seed_copy: Path) -> None:
    """Opening reads little of documents.sqlite; a bad page of the documents table shows on the first search."""
    import sqlite3

    import httpx

    from archive_qa.api.app import create_app
    from conftest import LiveServer

    database = current_generation(seed_copy) / "documents.sqlite"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        page = connection.execute("SELECT pageno FROM dbstat WHERE name = 'documents' AND pagetype = 'leaf'"
                                  " ORDER BY pageno LIMIT 1").fetchone()[0]
        size = connection.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(database.read_bytes())
    data[(page - 1) * size: page * size] = b"\xa5" * size
    database.write_bytes(bytes(data))
    with LiveServer(create_app(seed_copy)) as server:
        response = httpx.get(f"{server.url}/api/search", params={"q": "neutral countries"}, timeout=30)
    assert response.status_code == 503
    assert str(database) in response.json()["detail"] and "archive-qa check" in response.json()["detail"]
    status, _, err = run_cli("search", "neutral countries", "--index", str(seed_copy))
    assert status == 2 and "the index database is damaged" in err and "archive-qa check" in err
    report = check_index(seed_copy)
    assert any("malformed" in problem for problem in report.problems)
    with pytest.raises(IndexCorruptError, match="with the original collection files"):
        reindex(seed_copy, MODEL, progress=False)
