"""Full verification of an index directory: checksums, SQLite integrity, FAISS and vector shapes."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .layout import (
    DATABASE, FAISS, GENERATIONS, VECTORS, IndexError_, current_generation, file_sha256, read_manifest,
)

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """What `archive-qa check` found: problems make the index unusable, notes do not."""

    generation: str | None = None
    documents: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def check_index(index_dir: str | Path) -> CheckReport:
    """Read every file of the current generation in full and compare it with the manifest."""
    index_dir = Path(index_dir)
    report = CheckReport()
    leftovers = sorted(p.name for p in (index_dir / GENERATIONS).glob(".tmp-*"))
    if leftovers:
        report.notes.append(f"unfinished generation(s) {', '.join(leftovers)} from an interrupted ingest; "
                            "the next ingest removes them")
    try:
        generation = current_generation(index_dir)
        report.generation = generation.name
        manifest = read_manifest(generation)  # presence and sizes
    except IndexError_ as error:
        report.problems.append(str(error))
        return report
    count, dimension = manifest["count"], manifest["dimension"]
    report.documents = count
    for name, info in manifest["files"].items():
        if "sha256" in info and file_sha256(generation / name) != info["sha256"]:
            report.problems.append(f"{generation / name}: content differs from its checksum in the manifest")
    _check_database(generation / DATABASE, count, report)
    _check_vectors(generation, count, dimension, report)
    return report


def _check_database(path: Path, count: int, report: CheckReport) -> None:
    """SQLite's own integrity check and the document count."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            verdict = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            rows = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as error:
        report.problems.append(f"{path}: {error}")
        return
    if verdict != ["ok"]:
        report.problems.append(f"{path}: integrity check failed: {'; '.join(verdict[:3])}")
    elif rows != count:
        report.problems.append(f"{path} holds {rows} documents, the manifest says {count}")


def _check_vectors(generation: Path, count: int, dimension: int, report: CheckReport) -> None:
    """The FAISS index loads whole and agrees with vectors.npy, which holds finite numbers."""
    try:
        index = faiss.read_index(str(generation / FAISS))  # all of it, not memory-mapped
    except Exception as error:  # FAISS raises RuntimeError, or worse, on damaged files
        report.problems.append(f"{generation / FAISS}: cannot be read ({error})")
    else:
        if (index.ntotal, index.d) != (count, dimension):
            report.problems.append(f"{generation / FAISS} holds {index.ntotal} vectors of dimension {index.d}, "
                                   f"the manifest says {count} of {dimension}")
    try:
        stored = np.load(generation / VECTORS, mmap_mode="r")
        shape_ok = stored.shape == (count, dimension)
        finite = shape_ok and bool(np.isfinite(stored).all())
    except (OSError, ValueError) as error:
        report.problems.append(f"{generation / VECTORS}: cannot be read ({error})")
        return
    if not shape_ok:
        report.problems.append(f"{generation / VECTORS} has shape {stored.shape}, expected ({count}, {dimension})")
    elif not finite:
        report.problems.append(f"{generation / VECTORS} holds numbers that are not finite")
