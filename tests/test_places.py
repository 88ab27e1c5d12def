"""Places read from documents, regions from places, region and place filters, and /api/facets."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from archive_qa.archive import open_index
from archive_qa.indexing import ingest
from archive_qa.places import locate, mentions, question_regions
from archive_qa.records import record_to_document

from conftest import DATA, MODEL, write_jsonl


def _seed() -> dict[str, object]:
    """The seed documents, located."""
    return {doc.id: doc for doc in (locate(record_to_document(json.loads(line), "seed"))
                                    for line in (DATA / "seed_mao_stalin.jsonl").read_text().splitlines())}


def test_seed_documents_get_the_regions_their_summaries_name() -> None:
    seed = _seed()
    for doc in seed.values():
        summary = doc.summary or ""
        if any(name in summary for name in ("China", "Korea")):
            assert "East Asia" in doc.regions, doc.id
        if any(name in summary for name in ("Soviet", "USSR", "Moscow")):
            assert "Eastern Europe" in doc.regions, doc.id
        assert doc.regions_from == "read" and doc.places_from == "read"
    assert seed["seed-04"].places == ["Korea"] and seed["seed-04"].regions == ["East Asia", "Eastern Europe"]
    assert "Soviet Union" in seed["seed-10"].places  # "USSR", under the name the facets show


def test_period_names_are_one_place_and_people_are_not_places() -> None:
    found = [name for name, _, _ in mentions("Peking and Peiping spoke to Formosa; Douglas MacArthur landed at Inchon.")]
    assert found == ["Peking", "Peiping", "Formosa", "Inchon"]
    doc = locate(record_to_document({"id": "x", "date": "1950", "summary": "Peking and Peiping and the U.S.S.R."}, "x"))
    assert doc.places == ["Beijing", "Soviet Union"] and doc.regions == ["East Asia", "Eastern Europe"]
    assert mentions("the price of turkey and china plates") == []  # places are written with a capital


def test_a_record_s_own_places_and_regions_win() -> None:
    doc = locate(record_to_document({"id": "x", "date": "1960", "summary": "Talks in Moscow.",
                                     "places": ["Accra"], "regions": ["Africa"]}, "x"))
    assert (doc.places, doc.places_from, doc.regions, doc.regions_from) == (["Accra"], "record", ["Africa"], "record")
    only_places = locate(record_to_document({"id": "y", "date": "1960", "summary": "Talks.", "places": ["Havana"]}, "y"))
    assert only_places.regions == ["Latin America"] and only_places.regions_from == "read"


def test_regions_named_in_a_question() -> None:
    assert [r for r, _, _ in question_regions("What did the Soviets say about East Asia in 1950?")] == ["East Asia"]
    assert [r for r, _, _ in question_regions("news from the Far East and the Middle East")] == ["East Asia",
                                                                                              "Middle East"]
    assert question_regions("What did Stalin say about neutral countries?") == []


@pytest.fixture(scope="module")
def bundled(bundled_index: Path):
    return open_index(bundled_index)


def test_a_region_filter_returns_k_results_whenever_k_match(bundled) -> None:
    everything = bundled.search("armistice", k=100, region="Latin America")["results"]
    few = len(everything)
    assert all("Latin America" in r["regions"] for r in everything)
    response = bundled.search("armistice", k=few + 5, region="Latin America")
    assert len(response["results"]) == few  # all of them, though none is about the armistice
    east = bundled.search("armistice", k=10, region="East Asia")["results"]
    assert len(east) == 10 and all("East Asia" in r["regions"] for r in east)


def test_a_place_filter_is_inside_the_search(bundled) -> None:
    results = bundled.search("talks", k=10, place="Kaesong")["results"]
    assert results and all("Kaesong" in r["places"] for r in results)


def test_a_region_read_from_the_question_is_shown_and_can_be_lifted(bundled) -> None:
    question = "What did the Soviets say about East Asia in 1951?"
    read = bundled.search(question)
    assert read["interpreted"]["regions"] == ["East Asia"] and read["interpreted"]["applied"]
    assert read["results"] and all("East Asia" in r["regions"] for r in read["results"])
    lifted = bundled.search(question, interpret=False)
    assert lifted["interpreted"]["regions"] == []
    explicit = bundled.search(question, region="Western Europe")
    assert explicit["interpreted"]["regions"] == [] and explicit["filters"]["regions"] == ["Western Europe"]


def test_ingest_marks_places_and_regions_in_the_json(tmp_path: Path, embedder) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "a", "date": "1956-11-01", "summary": "The Soviet army enters Budapest."},
        {"id": "b", "date": "1956-11-02", "summary": "Talks in Cairo.", "regions": ["Middle East"]},
    ])
    ingest(tmp_path / "index", [path], MODEL, progress=False)
    archive = open_index(tmp_path / "index")
    a, b = archive.document("a").to_dict(), archive.document("b").to_dict()
    assert (a["places"], a["regions"], a["regions_from"]) == (["Budapest"], ["Eastern Europe"], "read")
    assert (b["regions"], b["regions_from"]) == (["Middle East"], "record")


@pytest.fixture(scope="module")
def client(bundled_server):
    with httpx.Client(base_url=bundled_server.url, timeout=30) as http:
        yield http


def test_api_facets_count_regions_for_a_question(client: httpx.Client) -> None:
    facets = client.get("/api/facets", params={"q": "armistice"}).json()
    regions = {f["value"]: f["count"] for f in facets["regions"]}
    assert regions.get("East Asia", 0) > 0 and all(count > 0 for count in regions.values())
    assert facets["years"] and facets["people"] and facets["documents"] == 100
    whole = client.get("/api/facets").json()
    assert whole["query"] is None and whole["documents"] == 343
    assert client.get("/api/facets", params={"q": "armistice", "region": "x" * 500}).status_code == 422


def test_api_search_region_filter(client: httpx.Client) -> None:
    response = client.get("/api/search", params={"q": "armistice", "region": "East Asia"}).json()
    assert response["results"] and all("East Asia" in r["regions"] for r in response["results"])
    posted = client.post("/api/search", json={"q": "armistice", "region": ["East Asia"]}).json()
    assert [r["id"] for r in posted["results"]] == [r["id"] for r in response["results"]]
    asked = client.post("/api/ask", json={"question": "armistice talks", "filters": {"region": "Latin America"}})
    assert asked.status_code == 200
    assert all("Latin America" in d["regions"] for d in asked.json()["documents"])
