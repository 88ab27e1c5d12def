"""The index directory: immutable generations, a CURRENT pointer swapped atomically, a writer lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
GENERATIONS = "generations"
MANIFEST = "manifest.json"
DATABASE = "documents.sqlite"
VECTORS = "vectors.npy"
FAISS = "vectors.faiss"
PASSAGE_VECTORS = "passages.npy"  # float16, row-aligned with the passages table


class IndexError_(RuntimeError):
    """Any index that cannot be used; the message says what to do."""


class IndexMissingError(IndexError_):
    """No index has been built in the directory yet."""


class IndexMismatchError(IndexError_):
    """The index was built with another model or format version."""


class IndexCorruptError(IndexError_):
    """An index file is truncated, altered or unreadable."""


class IndexWriteError(IndexError_):
    """Writing a new generation failed (disk full, file too large, I/O error); nothing was published."""


def rebuild_hint(index_dir: Path) -> str:
    """The commands that rebuild an index directory."""
    return (f"rebuild it: `archive-qa reindex --index {index_dir}` re-embeds the stored documents, "
            f"or delete {index_dir} and run `archive-qa ingest FILE... --index {index_dir}`")


def current_generation(index_dir: Path) -> Path:
    """The published generation's directory."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_bytes().decode("utf-8", "replace").strip()
    except FileNotFoundError:
        if any(p.is_dir() and not p.name.startswith(".") for p in (index_dir / GENERATIONS).glob("*")):
            raise IndexCorruptError(f"{pointer} is missing but {index_dir / GENERATIONS} holds generations; "
                                    f"{rebuild_hint(index_dir)}") from None
        raise IndexMissingError(
            f"no index in {index_dir}; build one with `archive-qa ingest FILE... --index {index_dir}`"
        ) from None
    path = index_dir / GENERATIONS / name
    if not name or "/" in name or name.startswith(".") or not path.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing generation {name!r}; {rebuild_hint(index_dir)}")
    return path


def read_manifest(generation: Path) -> dict[str, Any]:
    """The generation's manifest, with every listed file checked for its recorded size."""
    index_dir = generation.parent.parent
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexCorruptError(f"{generation / MANIFEST} is unreadable ({error}); {rebuild_hint(index_dir)}") from None
    if not isinstance(manifest, dict):
        manifest = {}
    if manifest.get("format_version") != FORMAT_VERSION and "format_version" in manifest:
        raise IndexMismatchError(
            f"{index_dir} has index format {manifest.get('format_version')}, this archive_qa reads "
            f"format {FORMAT_VERSION}; delete {index_dir} and run `archive-qa ingest FILE... --index {index_dir}`"
        )
    if not isinstance(manifest.get("files"), dict) or not all(isinstance(manifest.get(key), kind) for key, kind in (
            ("format_version", int), ("model", str), ("count", int), ("dimension", int))):
        raise IndexCorruptError(f"{generation / MANIFEST} lacks its fields (format_version, files, model, count, "
                                f"dimension); {rebuild_hint(index_dir)}")
    for name, info in manifest["files"].items():
        path = generation / name
        expected = info.get("bytes") if isinstance(info, dict) else None
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing; {rebuild_hint(index_dir)}")
        if path.stat().st_size != expected:
            raise IndexCorruptError(
                f"{path} is {path.stat().st_size} bytes, the manifest says {expected}: the file is truncated or "
                f"altered; {rebuild_hint(index_dir)}"
            )
    return manifest


def new_generation_dir(index_dir: Path) -> Path:
    """A fresh temporary directory for a generation being written (call under `writer_lock`).

    Leftovers of writers that were killed are removed first, so a full disk gets its space back. Names
    sort in creation order: UTC time to the nanosecond, then the process id.
    """
    root = index_dir / GENERATIONS
    root.mkdir(parents=True, exist_ok=True)
    remove_unfinished(index_dir)
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
    path = root / f".tmp-{stamp}.{now % 10**9:09d}-{os.getpid()}"
    path.mkdir()
    return path


def remove_unfinished(index_dir: Path) -> list[Path]:
    """Delete `.tmp-*` generations and a stray CURRENT.tmp left by a killed writer (call under `writer_lock`)."""
    root = index_dir / GENERATIONS
    stale = [p for p in root.iterdir() if p.name.startswith(".tmp-")] if root.is_dir() else []
    for path in stale:
        log.warning("removing unfinished generation %s left by an interrupted ingest", path.name)
        shutil.rmtree(path, ignore_errors=True)
    (index_dir / f"{CURRENT}.tmp").unlink(missing_ok=True)
    return stale


def publish(index_dir: Path, tmp: Path, manifest: dict[str, Any]) -> Path:
    """Seal a written generation and point CURRENT at it in one atomic rename."""
    manifest = dict(manifest, format_version=FORMAT_VERSION, files={
        p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in sorted(tmp.iterdir())
        if p.name != MANIFEST
    })
    _write_synced(tmp / MANIFEST, json.dumps(manifest, indent=2).encode())
    for path in tmp.iterdir():
        _fsync_file(path)
    final = tmp.with_name(tmp.name.removeprefix(".tmp-"))
    os.rename(tmp, final)
    _fsync_dir(final.parent)
    _write_synced(index_dir / f"{CURRENT}.tmp", final.name.encode())
    os.replace(index_dir / f"{CURRENT}.tmp", index_dir / CURRENT)
    _fsync_dir(index_dir)
    log.info("published generation %s", final.name)
    return final


def collect_garbage(index_dir: Path, keep: int = 2, grace_s: float = 300.0) -> None:
    """Remove unfinished writes and all but the newest `keep` generations (the current one always stays).

    A generation superseded less than `grace_s` seconds ago stays too: a server may still be answering a
    request from it, and one that has not yet opened its database in some thread would fail.
    """
    root = index_dir / GENERATIONS
    if not root.is_dir():
        return
    current = (index_dir / CURRENT).read_text().strip() if (index_dir / CURRENT).exists() else ""
    finished = sorted((p for p in root.iterdir() if not p.name.startswith(".tmp-")), key=lambda p: p.name)
    stale = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    now = time.time()
    for older, newer in zip(finished[:-keep], finished[1:]):
        if older.name != current and now - newer.stat().st_mtime > grace_s:
            stale.append(older)
    for path in stale:
        log.info("removing old generation %s", path.name)
        shutil.rmtree(path, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def latest_database(index_dir: Path) -> Path:
    """The database to rebuild from: the current generation's, else (CURRENT damaged) the newest one on disk."""
    try:
        return current_generation(index_dir) / DATABASE
    except IndexError_ as error:
        root = index_dir / GENERATIONS
        candidates = sorted((p / DATABASE for p in root.iterdir() if not p.name.startswith(".tmp-")
                             and (p / DATABASE).is_file()), reverse=True) if root.is_dir() else []
        if not candidates:
            raise error from None
        log.warning("%s; rebuilding from %s", error, candidates[0])
        return candidates[0]


@contextmanager
def writer_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    """Hold the index's single-writer lock; another ingest waits (or fails when wait is False)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise IndexError_(f"another ingest is writing {index_dir}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_synced(path: Path, data: bytes) -> None:
    """Write a file and flush it to disk."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    """Flush one file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk."""
    _fsync_file(path)
