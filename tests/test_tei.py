"""FRUS volumes in TEI XML: fields, the JSONL conversion they match, bad XML, memory and an ingest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from archive_qa import open_index
from archive_qa.documents import Document
from archive_qa.indexing import ingest, read_batch
from archive_qa.ranking.people import Person, build_index
from archive_qa.records import CollectionError, RecordError, read_collection
from archive_qa.tei import read_tei, volume_people
from conftest import DATA, MODEL, ROOT, SHARED

TEI_DIR = SHARED / "corpora" / "frus_tei"
PEAK_SHARE = 0.5  # of the file size; measured 0.36 (504 KB for 1.41 MB), where ElementTree.parse takes 3.9

VOLUME = """<?xml version="1.0" encoding="UTF-8"?>
<TEI xmlns="http://www.tei-c.org/ns/1.0" xml:id="frus9999v01">
  <teiHeader><fileDesc><titleStmt>
    <title type="complete">Foreign Relations of the United States, 9999, <hi>Test</hi> Volume</title>
    <title type="series">Foreign Relations of the United States</title>
  </titleStmt></fileDesc></teiHeader>
  <text>
    <front>
      <div type="section" xml:id="persons">
        <head>List of Persons</head>
        <list type="names">
          <item><hi rend="strong"><persName xml:id="p_KNS2">Khrushchev, Nikita S.</persName>,</hi> Chairman</item>
          <item><hi rend="strong"><persName xml:id="p_TLE1">Thompson, Llewellyn E., Jr.</persName>,</hi>
            Ambassador</item>
        </list>
      </div>
    </front>
    <body>
      <div type="compilation" xml:id="comp1"><head>Test Exchanges</head>
        <div type="chapter" xml:id="ch1"><head>The Spring</head>
          <div type="document" xml:id="d1" n="1">
            <head>1. Letter From Ambassador <persName corresp="#p_TLE1" type="from">Thompson</persName> to Chairman
              <persName corresp="#p_KNS2" type="to">Khrushchev</persName><note n="0" xml:id="d1fn0">Source: Test
              Files, Lot 1. Secret.</note></head>
            <opener><dateline><placeName>Moscow</placeName>, <date notBefore="1961-06" notAfter="1961-06-30">June
              1961</date>.</dateline></opener>
            <p>Subject: Berlin.</p>
            <p>The Ambassador met <persName corresp="#p_KNS2">Khrushchev</persName> today and asked about the
              treaty.<note n="1" xml:id="d1fn1">Not printed.</note> The talk lasted for two long hours.</p>
            <p>No agreement was reached on any point.</p>
          </div>
          <div type="document" xml:id="d2" n="2">
            <head>2. Editorial Note</head>
            <p>The exchange continued without a dated record of the meeting itself at all.</p>
          </div>
          <div type="document" xml:id="d3" n="3">
            <head>3. Memorandum of Conversation</head>
            <dateline><placeName>Washington</placeName>, <date>August 1961</date></dateline>
            <p>A conversation on the future of the talks was held in the autumn.</p>
          </div>
        </div>
      </div>
    </body>
  </text>
</TEI>
"""


def shared_volume(name: str) -> Path:
    """A TEI volume from ../shared, or a skip where this checkout has none."""
    path = TEI_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} is not present (only in the team's checkout)")
    return path


def snapshot(index: Path) -> dict[str, str]:
    """Every file of an index directory with its content hash."""
    return {str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(index.rglob("*")) if p.is_file() and p.name != ".lock"}


def line_of(text: str, needle: str) -> int:
    """The 1-based line where `needle` first occurs."""
    return text[:text.index(needle)].count("\n") + 1


def test_fixture_volume_gives_every_field(tmp_path: Path) -> None:
    path = tmp_path / "frus9999v01.xml"
    path.write_text(VOLUME, encoding="utf-8")
    first, editorial, memo = list(read_collection(path))
    assert isinstance(first, Document) and isinstance(editorial, Document) and isinstance(memo, Document)
    assert first.id == "frus9999v01-d1"
    assert first.title == "Letter From Ambassador Thompson to Chairman Khrushchev"  # no number, no note
    assert first.date.iso == "1961-06" and first.date.precision == "month" and first.date_raw == "June 1961"
    assert first.text == ("Moscow, June 1961.\n\nSubject: Berlin.\n\nThe Ambassador met Khrushchev today and asked "
                          "about the treaty. The talk lasted for two long hours.\n\nNo agreement was reached on any point.")
    assert "Not printed" not in first.text and "Source" not in first.text
    assert first.extra["footnotes"] == ["[1] Not printed."]
    assert first.extra["source_note"] == "Source: Test Files, Lot 1. Secret."
    assert first.people == ["Khrushchev, Nikita S", "Thompson, Llewellyn E., Jr"]  # from the persons list
    assert first.extra["from"] == ["Thompson"] and first.extra["to"] == ["Khrushchev"]
    assert first.extra["place"] == "Moscow"
    assert first.extra["chapter"] == "Test Exchanges > The Spring"
    assert first.summary == ("Letter From Ambassador Thompson to Chairman Khrushchev. Subject: Berlin. The Ambassador "
                             "met Khrushchev today and asked about the treaty. The talk lasted for two long hours.")
    assert first.source == "Foreign Relations of the United States, 9999, Test Volume"
    assert first.url == "https://history.state.gov/historicaldocuments/frus9999v01/d1"
    assert editorial.date is None and editorial.date_inferred == first.date and editorial.people == []
    assert memo.date.iso == "1961-08" and memo.date_raw == "August 1961" and memo.extra["place"] == "Washington"
    assert volume_people(path) == [
        Person("Nikita S. Khrushchev", ("Khrushchev, Nikita S.", "Nikita Khrushchev")),
        Person("Llewellyn E. Thompson, Jr.", ("Thompson, Llewellyn E., Jr.", "Llewellyn Thompson")),
    ]


def test_persons_list_feeds_the_people_index(tmp_path: Path, embedder) -> None:
    path = tmp_path / "frus9999v01.xml"
    path.write_text(VOLUME, encoding="utf-8")
    ingest(tmp_path / "index", [path], MODEL)
    assert json.loads((tmp_path / "index" / "frus9999v01.people.json").read_text())[0] == {
        "name": "Nikita S. Khrushchev", "aliases": ["Khrushchev, Nikita S.", "Nikita Khrushchev"]}
    archive = open_index(tmp_path / "index")
    for written in ("Thompson, Llewellyn E., Jr.", "Llewellyn Thompson", "Thompson"):
        assert archive.person(written)["name"] == "Llewellyn E. Thompson, Jr.", written
    # data/people.json knows Khrushchev already: the volume's forms join that person rather than a second one
    assert {archive.person(w)["name"] for w in ("Khrushchev, Nikita S.", "Nikita S. Khrushchev", "Khrushchev")} \
        == {"Nikita Khrushchev"}
    assert archive.person("Thompson")["documents"] >= 1


def test_fixture_locations_and_bad_documents(tmp_path: Path) -> None:
    path = tmp_path / "v.xml"
    path.write_text(VOLUME.replace('xml:id="d2" n="2"', 'n="2"').replace('xml:id="d3"', 'xml:id="d1"'),
                    encoding="utf-8")
    items = list(read_tei(path))
    d1, d2, d3 = (line_of(VOLUME, f'xml:id="{name}"') for name in ("d1", "d2", "d3"))
    assert isinstance(items[0], Document)
    assert items[1] == RecordError(f"{path}:{d2}", 'div[@type="document"] without an xml:id')
    assert str(items[2]) == f"{path}:{d3}: duplicate id 'frus9999v01-d1' (first at {path}:{d1})"


def test_not_tei_and_empty_files_are_collection_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<catalog><book id="1"/></catalog>\n', encoding="utf-8")
    with pytest.raises(CollectionError, match=rf"{other}:2: not a TEI volume"):
        list(read_collection(other))
    empty = tmp_path / "empty.xml"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(CollectionError, match="the file is empty"):
        list(read_collection(empty))
    with pytest.raises(CollectionError, match="no such file"):
        list(read_collection(tmp_path / "missing.xml"))


def test_malformed_xml_names_file_and_line_and_leaves_the_index_unchanged(seed_copy: Path, tmp_path: Path) -> None:
    broken = VOLUME.replace("<p>No agreement was reached on any point.</p>", "<p>No agreement <hi>was</p>")
    path = tmp_path / "broken.xml"
    path.write_text(broken, encoding="utf-8")
    line = line_of(broken, "<p>No agreement")
    with pytest.raises(CollectionError) as error:
        list(read_tei(path))
    assert str(error.value).startswith(f"{path}:{line}: not well-formed XML (mismatched tag")
    before = snapshot(seed_copy)
    with pytest.raises(CollectionError, match=f"broken.xml:{line}:"):
        ingest(seed_copy, [DATA / "seed_mao_stalin.jsonl", path], MODEL, progress=False)
    assert snapshot(seed_copy) == before
    cli = subprocess.run([sys.executable, "-m", "archive_qa.cli", "ingest", str(path), "--index", str(seed_copy)],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                         timeout=300)
    assert cli.returncode == 2 and f"{path}:{line}: not well-formed XML" in cli.stderr
    assert snapshot(seed_copy) == before


def test_1951_volume_matches_its_jsonl_conversion() -> None:
    xml = list(read_collection(shared_volume("frus1951v07p2.xml")))
    jsonl = list(read_collection(DATA / "frus1951v07p2.jsonl"))
    assert all(isinstance(d, Document) for d in xml + jsonl)
    assert len(xml) == len(jsonl) == 333
    assert [d.id for d in xml] == [d.id for d in jsonl]
    assert [d.date for d in xml] == [d.date for d in jsonl]
    assert [d.date_raw for d in xml] == [d.date_raw for d in jsonl]
    assert [d.title for d in xml] == [d.title for d in jsonl]
    assert [d.id for d, j in zip(xml, jsonl) if d != j] == []  # text, summary, people, metadata: all of it


def test_volume_and_its_jsonl_in_one_batch_are_duplicates() -> None:
    documents, errors = read_batch([DATA / "frus1951v07p2.jsonl", shared_volume("frus1951v07p2.xml")])
    assert len(documents) == len(errors) == 333
    assert all("duplicate id" in e.reason and e.location.startswith(str(TEI_DIR)) for e in errors)


def test_1961_volume_reads_with_people_from_its_persons_list() -> None:
    path = shared_volume("frus1961-63v06.xml")
    documents = list(read_collection(path))
    assert len(documents) == 120 and all(isinstance(d, Document) for d in documents)
    assert all(d.id.startswith("frus1961-63v06-d") and d.title and d.text for d in documents)
    assert sum(d.date is not None for d in documents) >= 0.85 * len(documents)  # 110: the rest are "undated"
    assert sum(bool(d.people) for d in documents) >= 0.9 * len(documents)
    assert all(d.date_inferred for d in documents if d.date is None)
    d6 = next(d for d in documents if d.id == "frus1961-63v06-d6")
    assert d6.title == "Message From Chairman Khrushchev to President Kennedy"
    assert d6.date.iso == "1961-02-15" and d6.extra["place"] == "Moscow"
    assert d6.people == ["Khrushchev, Nikita S", "Kennedy, John F"]
    assert d6.extra["from"] == ["Khrushchev"] and d6.extra["to"] == ["Kennedy"]
    assert d6.extra["source_note"].startswith("Source: Department of State")
    people = volume_people(path)
    assert len(people) == 58
    assert Person("Nikita S. Khrushchev", ("Khrushchev, Nikita S.", "Nikita Khrushchev")) in people
    index = build_index(people, [name for d in documents for name in d.people])
    assert index.canonical("Khrushchev, Nikita S") == "Nikita S. Khrushchev"
    assert index.canonical("Kennedy, John F") == "John F. Kennedy"


def test_reading_streams_in_memory_well_below_the_file_size() -> None:
    path = shared_volume("frus1961-63v06.xml")
    sum(1 for _ in read_tei(path))  # imports and compiled patterns before measuring
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_tei(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 120
    assert peak < PEAK_SHARE * path.stat().st_size, f"peak {peak} bytes for a {path.stat().st_size}-byte file"


def test_ingest_of_the_1951_volume_is_searchable(tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    report = ingest(index, [shared_volume("frus1951v07p2.xml")], MODEL, progress=False)
    assert (report.added, report.total, report.errors) == (333, 333, [])
    results = open_index(index).search("Chinese intervention in Korea")["results"]
    assert results and all(r["id"].startswith("frus1951v07p2-d") for r in results)
    assert results[0]["url"].startswith("https://history.state.gov/historicaldocuments/frus1951v07p2/d")
    again = ingest(index, [DATA / "frus1951v07p2.jsonl"], MODEL, progress=False)  # the same documents as JSONL
    assert (again.replaced, again.embedded, again.total) == (333, 0, 333)
