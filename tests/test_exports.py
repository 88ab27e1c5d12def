"""Citation exports that reference managers read back: RIS (rispy), BibTeX (bibtexparser), CSL-JSON, CSV."""

from __future__ import annotations

import csv
import io
import json

import bibtexparser
import httpx
import pytest
import rispy

from archive_qa.cli import main
from archive_qa.exports import FORMATS, export
from archive_qa.records import read_collection

from conftest import DATA


@pytest.fixture(scope="module")
def documents():
    seed = list(read_collection(DATA / "seed_mao_stalin.jsonl"))
    frus = list(read_collection(DATA / "frus1951v07p2.jsonl"))[:5]
    return seed + frus


def test_ris_round_trips(documents) -> None:
    entries = rispy.loads(export(documents, "ris"))
    assert [e["id"] for e in entries] == [d.id for d in documents]
    frus = entries[-1]
    assert frus["type_of_reference"] == "MANSCPT" and frus["urls"] == [documents[-1].url]
    assert entries[2]["date"].startswith("1951/08/28")


def test_bibtex_round_trips(documents) -> None:
    library = bibtexparser.parse_string(export(documents, "bibtex"))
    assert not library.failed_blocks
    assert len(library.entries) == len(documents)
    first = library.entries[2]
    assert first.key == "seed-03_1951" and first["date"] == "1951-08-28"


def test_csl_json_and_csv(documents) -> None:
    items = json.loads(export(documents, "csl-json"))
    assert items[2]["issued"] == {"date-parts": [[1951, 8, 28]]} and items[2]["type"] == "manuscript"
    assert items[-1]["author"]  # FRUS records name who sent them in `from`
    rows = list(csv.DictReader(io.StringIO(export(documents, "csv"))))
    assert [r["id"] for r in rows] == [d.id for d in documents] and rows[0]["rank"] == "1"
    with pytest.raises(ValueError, match="format"):
        export(documents, "docx")


@pytest.fixture(scope="module")
def client(bundled_server):
    with httpx.Client(base_url=bundled_server.url, timeout=30) as http:
        yield http


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_api_exports_a_result_list_with_its_content_type(client: httpx.Client, fmt: str) -> None:
    response = client.get("/api/search", params={"q": "neutral countries", "k": 3, "format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == FORMATS[fmt][0]
    assert "attachment" in response.headers["content-disposition"]
    if fmt == "ris":
        assert [e["id"] for e in rispy.loads(response.text)][0] == "seed-03"
    if fmt == "bibtex":
        assert bibtexparser.parse_string(response.text).entries[0].key == "seed-03_1951"
    assert client.get("/api/search", params={"q": "x", "format": "docx"}).status_code == 422


def test_document_twin_and_citation_files(client: httpx.Client) -> None:
    twin = client.get("/api/documents/seed-03").json()
    assert set(twin["citations"]) >= {"chicago", "bibtex", "ris", "csl_json", "files"}
    ris_file = client.get(twin["citations"]["files"]["ris"])
    assert ris_file.headers["content-type"].startswith("application/x-research-info-systems")
    assert rispy.loads(ris_file.text)[0]["id"] == "seed-03"
    assert client.get("/api/cite/seed-03", params={"style": "chicago"}).text.startswith("“Stalin agrees")
    assert client.get("/api/cite/nope", params={"style": "ris"}).status_code == 404
    page = client.get("/documents/seed-03").text
    assert "/api/cite/seed-03?style=ris" in page and "CSL-JSON" in page


def test_cli_search_exports(bundled_index, capsys) -> None:
    assert main(["search", "neutral countries", "--index", str(bundled_index), "-k", "2", "--format", "ris"]) == 0
    assert [e["id"] for e in rispy.loads(capsys.readouterr().out)][0] == "seed-03"
