"""The index directory: immutable generations, a CURRENT pointer swapped atomically, a writer lock."""

from __future__ import annotations

import fcntl
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


class IndexError_(RuntimeError):
    """Any index that cannot be used; the message says what to do."""


class IndexMissingError(IndexError_):
    """No index has been built in the directory yet."""


class IndexMismatchError(IndexError_):
    """The index was built with another model or format version."""


class IndexCorruptError(IndexError_):
    """An index file is truncated, altered or unreadable."""


def rebuild_hint(index_dir: Path) -> str:
    """The commands that rebuild an index directory."""
    return (f"rebuild it: `archive-qa reindex --index {index_dir}` re-embeds the stored documents, "
            f"or delete {index_dir} and run `archive-qa ingest FILE... --index {index_dir}`")


def current_generation(index_dir: Path) -> Path:
    """The published generation's directory."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexMissingError(
            f"no index in {index_dir}; build one with `archive-qa ingest FILE... --index {index_dir}`"
        ) from None
    path = index_dir / GENERATIONS / name
    if not name or "/" in name or not path.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing generation {name!r}; {rebuild_hint(index_dir)}")
    return path


def read_manifest(generation: Path) -> dict[str, Any]:
    """The generation's manifest, with every listed file checked for its recorded size."""
    index_dir = generation.parent.parent
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexCorruptError(f"{generation / MANIFEST} is unreadable ({error}); {rebuild_hint(index_dir)}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{index_dir} has index format {manifest.get('format_version')}, this archive_qa reads "
            f"format {FORMAT_VERSION}; delete {index_dir} and run `archive-qa ingest FILE... --index {index_dir}`"
        )
    for name, info in manifest.get("files", {}).items():
        path = generation / name
        size = path.stat().st_size if path.exists() else -1
        if size != info["bytes"]:
            raise IndexCorruptError(
                f"{path} is {size} bytes, the manifest says {info['bytes']}: the file is truncated or "
                f"altered; {rebuild_hint(index_dir)}"
            )
    return manifest


def new_generation_dir(index_dir: Path) -> Path:
    """A fresh temporary directory for a generation being written."""
    root = index_dir / GENERATIONS
    root.mkdir(parents=True, exist_ok=True)
    path = root / f".tmp-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    path.mkdir()
    return path


def publish(index_dir: Path, tmp: Path, manifest: dict[str, Any]) -> Path:
    """Seal a written generation and point CURRENT at it in one atomic rename."""
    manifest = dict(manifest, format_version=FORMAT_VERSION, files={
        p.name: {"bytes": p.stat().st_size} for p in sorted(tmp.iterdir()) if p.name != MANIFEST
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


def collect_garbage(index_dir: Path, keep: int = 2) -> None:
    """Remove unfinished writes and all but the newest `keep` generations (the current one always stays)."""
    root = index_dir / GENERATIONS
    if not root.is_dir():
        return
    current = (index_dir / CURRENT).read_text().strip() if (index_dir / CURRENT).exists() else ""
    finished = sorted((p for p in root.iterdir() if not p.name.startswith(".tmp-")), key=lambda p: p.name)
    stale = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    stale += [p for p in finished[:-keep] if p.name != current]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


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
