"""People read from the dev questions over FRUS, the seed and the WCDA listing entries are all real people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive_qa.evaluation import load_qrels
from archive_qa.ranking.people import DATA_DIR, collection_index, display_name, load_people, people_files
from archive_qa.ranking.question import read_question

from conftest import DATA, EVAL, FRUS, SHARED

WCDA = SHARED / "corpora" / "wilson_center_dev" / "wilson_center_dev.jsonl"
pytestmark = pytest.mark.corpus


def _records(*paths: Path) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def mixed():
    """The people index of all FRUS, the seed and the WCDA entries together, and the names they list."""
    if not (FRUS.exists() and WCDA.exists()):
        pytest.skip("needs ../shared (FRUS and the WCDA dev entries)")
    records = _records(FRUS, DATA / "seed_mao_stalin.jsonl", WCDA)
    known = load_people(people_files(DATA_DIR))
    index = collection_index(known, ((r.get("people") or [], r.get("title"), r.get("summary")) for r in records))
    real = {p.name for p in known} | {display_name(n) for r in records for n in r.get("people") or []}
    return index, real


@pytest.mark.parametrize("qrels", ["frus_dev_qrels.jsonl", "seed_dev_qrels.jsonl", "wcda_dev_qrels.jsonl"])
def test_every_person_read_from_a_dev_question_is_a_listed_person(mixed, qrels: str) -> None:
    index, real = mixed
    read = {person for judged in load_qrels(EVAL / qrels) for person in read_question(judged.q, index).people}
    assert read and read <= real, sorted(read - real)


def test_no_place_or_common_word_becomes_a_person_in_the_mixed_collection(mixed) -> None:
    index, _ = mixed
    for name in ("Korea", "China", "Beijing", "Port Said", "British", "Soviet", "Berlin", "French", "Notes", "John"):
        assert index.canonical(name) is None, name
    assert read_question("What did British diplomats in Port Said and Berlin report about Korea?", index).people == ()
