"""The store seam: engines are imported only inside store/, and the embedded store keeps the protocol."""

from __future__ import annotations

import ast
from pathlib import Path

from archive_qa.store import Store, StoreReader

SOURCE = Path(__file__).resolve().parents[1] / "src" / "archive_qa"
ENGINES = {"sqlite3", "faiss", "psycopg", "psycopg_pool", "pgvector"}


def _imported(path: Path) -> set[str]:
    """Top-level names of every module a file imports (import x.y / from x.y import z)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_outside_store_imports_an_engine() -> None:
    offenders = {str(path.relative_to(SOURCE)): sorted(_imported(path) & ENGINES)
                 for path in SOURCE.rglob("*.py") if "store" not in path.relative_to(SOURCE).parts[:1]}
    assert {path: engines for path, engines in offenders.items() if engines} == {}
    assert len(offenders) > 30  # the walk found the package


def test_no_module_outside_store_reaches_into_a_backend() -> None:
    reaching = []
    for path in SOURCE.rglob("*.py"):
        if path.relative_to(SOURCE).parts[0] == "store":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("store.database", ".database.", "stored_vectors(", ".connection.execute"):
            if needle in text:
                reaching.append(f"{path.relative_to(SOURCE)}: {needle}")
    assert reaching == []


def test_embedded_store_is_a_store_reader(bundled_index: Path) -> None:
    store = Store.open(bundled_index)
    assert isinstance(store, StoreReader)
    assert store.generation_id == store.generation.name and store.count() == len(list(store.iter_documents()))
