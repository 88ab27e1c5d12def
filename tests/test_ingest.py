"""Ingest, re-ingest, remove, reindex and the index's persistence.

Tests taking `seed_on` run on both stores (`store_kind`, conftest); the others are about index directories
and the CLI over them (files on disk, manifests), embedded only.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive_qa import open_index
from archive_qa.embedding import ModelNotFoundError, resolve_model
from archive_qa.indexing import IngestRefused, ingest
from archive_qa.records import CollectionError
from archive_qa.store import IndexMismatchError, IndexMissingError, Store
from conftest import DATA, MODEL, ROOT, Collection, write_jsonl


def snapshot(index: Path) -> dict[str, str]:
    """Every file of an index directory with its content hash."""
    return {str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(index.rglob("*")) if p.is_file() and p.name != ".lock"}


def state(collection: Collection) -> object:
    """What a write that publishes nothing must leave as it was: every file, or every generation of a server."""
    return snapshot(collection.index) if collection.url is None else collection.generations()


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh process."""
    return subprocess.run([sys.executable, "-m", "archive_qa.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)


def test_reingest_replaces_and_adds_without_reembedding(seed_on: Collection, tmp_path: Path) -> None:
    changed = write_jsonl(tmp_path / "more.jsonl", [
        {"id": "seed-03", "date": "1951-08-28", "summary": "Stalin refuses to invite neutral countries.",
         "title": "Filippov [Stalin] to Mao Zedong"},
        {"id": "new-1", "date": "1953", "summary": "Negotiations on prisoners of war resume at Panmunjom."},
    ])
    report = seed_on.ingest([changed])
    assert (report.added, report.replaced, report.embedded, report.total) == (1, 1, 2, 11)
    store = seed_on.store()
    assert store.document("seed-03").title == "Filippov [Stalin] to Mao Zedong"
    assert store.document("new-1").date.precision == "year"
    again = seed_on.ingest([changed])
    assert again.embedded == 0 and again.replaced == 2 and again.total == 11


def test_remove_and_unknown_ids(seed_on: Collection) -> None:
    report = seed_on.remove(["seed-01", "nope"])
    assert report.removed == 1 and report.total == 9
    assert [str(e) for e in report.errors] == ["remove: no document with id 'nope'"]
    archive = seed_on.archive()
    assert archive.document("seed-01") is None and archive.stats()["documents"] == 9
    ids = [r["id"] for r in archive.search("Mao ceasefire position", k=9)["results"]]
    assert "seed-01" not in ids and len(ids) == 9


def test_bad_records_are_skipped_and_counted_and_strict_refuses(seed_on: Collection, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "good", "summary": "A fine record about Panmunjom."}\n{"id": "bad"}\n', encoding="utf-8")
    before = state(seed_on)
    with pytest.raises(IngestRefused) as refused:
        seed_on.ingest([path], strict=True)
    assert [e.location for e in refused.value.errors] == [f"{path}:2"]
    assert state(seed_on) == before
    report = seed_on.ingest([path])
    assert report.added == 1 and len(report.errors) == 1


def test_file_of_only_bad_records_leaves_index_untouched(seed_copy: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    before = snapshot(seed_copy)
    result = run_cli("ingest", str(path), "--index", str(seed_copy))
    assert result.returncode != 0
    assert f"{path}:1: needs a 'summary' or a 'text'" in result.stderr
    assert f"{path}:2: not valid JSON" in result.stderr
    assert snapshot(seed_copy) == before


def test_empty_file_is_an_error_not_an_empty_index(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CollectionError):
        ingest(tmp_path / "index", [empty], MODEL, progress=False)
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_index_persists_across_processes(seed_copy: Path) -> None:
    result = run_cli("search", "what did Stalin say about neutral countries?", "--index", str(seed_copy), "--json")
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["query"] == "what did Stalin say about neutral countries?"
    first = response["results"][0]
    assert first["id"] == "seed-03" and first["date"] == "1951-08-28"
    assert {"id", "date", "date_display", "title", "summary", "score", "url", "source", "people",
            "citation"} <= set(first)


def test_stats_and_show_commands(seed_index: Path) -> None:
    stats = json.loads(run_cli("stats", "--index", str(seed_index), "--json").stdout)
    assert stats["documents"] == 10 and stats["model"] == MODEL and stats["index_type"] == "flat"
    shown = run_cli("show", "seed-03", "--index", str(seed_index), "--json")
    assert json.loads(shown.stdout)["date_display"] == "28 August 1951"
    missing = run_cli("show", "nope", "--index", str(seed_index))
    assert missing.returncode == 1 and "no document with id 'nope'" in missing.stderr


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="archive-qa ingest"):
        open_index(tmp_path / "none")
    result = run_cli("search", "anything", "--index", str(tmp_path / "none"))
    assert result.returncode == 2 and "archive-qa ingest" in result.stderr


def test_index_from_another_model_or_format_is_refused(seed_copy: Path) -> None:
    with pytest.raises(IndexMismatchError, match="built with model"):
        Store.open(seed_copy, model="some-other-model")
    manifest_path = next((seed_copy / "generations").glob("*/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexMismatchError, match="format"):
        Store.open(seed_copy)


def test_reindex_reembeds_stored_documents(seed_on: Collection) -> None:
    report = seed_on.reindex()
    assert report.embedded == 10
    assert seed_on.archive().search("neutral countries", k=1)["results"][0]["id"] == "seed-03"


def test_missing_model_names_what_to_install() -> None:
    with pytest.raises(ModelNotFoundError, match="pip install no-such-model"):
        resolve_model("no-such-model")


def test_bundled_collections_ingest_cleanly() -> None:
    from archive_qa.indexing import read_batch

    docs, errors = read_batch(sorted(DATA.glob("*.jsonl")))
    assert errors == [] and len(docs) == 343


def test_sync_makes_the_index_hold_exactly_the_batch(seed_on: Collection, tmp_path: Path) -> None:
    lines = (DATA / "seed_mao_stalin.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = seed_on.ingest([subset], sync=True)
    assert (report.removed, report.embedded, report.total) == (6, 0, 4)
    assert seed_on.store().document("seed-05") is None
