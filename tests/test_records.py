"""Reading collections: every input format, validation, and FILE:LINE errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive_qa.documents import Document
from archive_qa.indexing import read_batch
from archive_qa.records import CollectionError, RecordError, read_collection
from conftest import write_jsonl

RECORD = {"id": "a1", "date": "August 28, 1951", "title": "Stalin to Mao", "summary": "Stalin declines.",
          "people": ["Joseph Stalin", "Mao Zedong"], "places": ["Moscow"], "url": "https://example.org/a1",
          "source": "Archive", "collection": "Korean War"}


def test_jsonl_json_and_csv_read_the_same(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "c.jsonl", [RECORD])
    array = tmp_path / "c.json"
    array.write_text(json.dumps([RECORD], indent=2), encoding="utf-8")
    csv_file = tmp_path / "c.csv"
    csv_file.write_text(
        "id,date,title,summary,people,places,url,source,collection\n"
        'a1,"August 28, 1951",Stalin to Mao,Stalin declines.,Joseph Stalin; Mao Zedong,Moscow,'
        "https://example.org/a1,Archive,Korean War\n", encoding="utf-8")
    docs = [list(read_collection(p))[0] for p in (jsonl, array, csv_file)]
    assert all(isinstance(d, Document) for d in docs)
    assert docs[0] == docs[1] == docs[2]
    doc = docs[0]
    assert doc.date.iso == "1951-08-28" and doc.date_raw == "August 28, 1951"
    assert doc.people == ["Joseph Stalin", "Mao Zedong"]
    assert doc.extra == {"collection": "Korean War"}


def test_null_and_empty_fields_count_as_absent(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "x", "summary": "s", "date": None, "title": "", "url": None,
                                               "people": [], "text": "  "}])
    doc = list(read_collection(path))[0]
    assert isinstance(doc, Document)
    assert doc.date is None and doc.title is None and doc.url is None and doc.text is None
    assert doc.to_dict()["date_display"] == "undated"


def test_undated_document_placed_by_inferred_date(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "x", "summary": "Editorial note", "date_inferred": "1951-03-02"}])
    doc = list(read_collection(path))[0]
    assert doc.date is None and doc.placement.iso == "1951-03-02"


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "not valid JSON"),
    ('{"summary": "no id"}', "missing required field 'id'"),
    ('{"id": "b"}', "needs a 'summary' or a 'text'"),
    ('{"id": "c", "summary": 5}', "field 'summary' must be a string"),
    ('{"id": "d", "summary": "s", "people": [1, 2]}', "field 'people' must be a list of strings"),
    ('{"id": "e", "summary": "s", "date": "Smarch 1951"}', "field 'date'"),
    ('{"id": "f", "summary": "s", "date": "1951-02-30"}', "day out of range"),
    ('{"id": ["g"], "summary": "s"}', "field 'id' must be a string"),
    ('[1, 2]', "expected an object"),
])
def test_bad_records_name_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "summary": "fine"}\n\n' + line + "\n", encoding="utf-8")
    items = list(read_collection(path))
    assert isinstance(items[0], Document)
    error = items[1]
    assert isinstance(error, RecordError)
    assert error.location == f"{path}:3"
    assert reason in error.reason
    assert str(error).startswith(f"{path}:3: ")


def test_duplicate_ids_in_a_batch_across_files(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "summary": "one"}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "y", "summary": "two"}, {"id": "x", "summary": "three"}])
    docs, errors = read_batch([first, second])
    assert [d.id for d in docs] == ["x", "y"]
    assert len(errors) == 1 and errors[0].location == f"{second}:2"
    assert "duplicate id 'x'" in errors[0].reason and f"{first}:1" in errors[0].reason


def test_json_array_errors_locate_the_element(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[\n  {"id": "a", "summary": "s"},\n  {"id": "b"}\n]\n', encoding="utf-8")
    items = list(read_collection(path))
    assert isinstance(items[1], RecordError) and items[1].location == f"{path}:3"


def test_csv_errors_locate_the_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('id,summary,date\na,"multi\nline summary",1951\nb,s,not a date\n', encoding="utf-8")
    items = list(read_collection(path))
    assert isinstance(items[0], Document) and items[0].summary == "multi\nline summary"
    assert isinstance(items[1], RecordError) and items[1].location == f"{path}:4"


@pytest.mark.parametrize("content", ["", "   \n"])
def test_empty_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CollectionError, match="empty"):
        list(read_collection(path))


def test_missing_and_binary_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CollectionError, match="no such file"):
        list(read_collection(tmp_path / "nope.jsonl"))
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(CollectionError, match="UTF-8"):
        list(read_collection(binary))


def test_bundled_seed_is_as_the_listing_gives_it() -> None:
    from conftest import DATA

    docs = list(read_collection(DATA / "seed_mao_stalin.jsonl"))
    assert [d.id for d in docs] == [f"seed-{n:02d}" for n in range(1, 11)]
    assert all(isinstance(d, Document) and d.title is None for d in docs)
    assert docs[2].date.iso == "1951-08-28" and "neutral countries" in docs[2].summary
    assert docs[8].date.iso == "1950-11-09"
