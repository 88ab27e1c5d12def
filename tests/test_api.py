"""The JSON API over a real server on loopback, on both stores (`store_kind`, conftest)."""

from __future__ import annotations

import httpx
import pytest

SEED_QUESTION = "what did Stalin say about neutral countries?"


@pytest.fixture(scope="module")
def client(bundled_service):
    """The bundled collection's service on the embedded store, then on PostgreSQL."""
    with httpx.Client(base_url=bundled_service.url, timeout=30) as http:
        yield http


def test_seed_question_ranks_28_august_1951_first(client: httpx.Client) -> None:
    response = client.get("/api/search", params={"q": SEED_QUESTION, "k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == SEED_QUESTION
    assert body["results"][0]["id"] == "seed-03"
    assert body["results"][0]["date"] == "1951-08-28"


def test_post_matches_get(client: httpx.Client) -> None:
    got = client.get("/api/search", params={"q": "Formosa strategic importance", "k": 7}).json()
    posted = client.post("/api/search", json={"q": "Formosa strategic importance", "k": 7}).json()
    assert [r["id"] for r in got["results"]] == [r["id"] for r in posted["results"]]
    assert len(got["results"]) == 7


def test_date_filter_is_inside_the_search(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "armistice negotiations", "k": 10,
                                             "date_from": "1951-07-01", "date_to": "July 31, 1951"}).json()
    assert len(body["results"]) == 10
    for result in body["results"]:
        placed = result["date"] or result["date_inferred"]
        assert "1951-07-01" <= placed[:10] <= "1951-07-31"


def test_filter_with_few_matches_returns_all_of_them(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "anything at all about Korea", "k": 20,
                                             "date_from": "1952-01-01", "date_to": "1952-12-31"}).json()
    ids = {r["id"] for r in body["results"]}
    assert {"seed-06", "seed-07", "seed-08"} <= ids


def test_person_filter(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "Formosa", "person": "Rusk", "k": 5}).json()
    assert body["results"]
    assert all(any("rusk" in p.lower() for p in r["people"]) for r in body["results"])


@pytest.mark.parametrize(("params", "name"), [
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x", "k": 0}, "k"),
    ({"q": "x", "k": 101}, "k"),
    ({"q": "x", "date_from": "Smarch 1951"}, "date_from"),
    ({"q": "x", "date_to": "1951-02-30"}, "date_to"),
])
def test_bad_parameters_are_422_naming_the_parameter(client: httpx.Client, params: dict, name: str) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == 422
    assert any(name in detail["loc"] for detail in response.json()["detail"])


def test_missing_q_and_bad_body(client: httpx.Client) -> None:
    assert client.get("/api/search").status_code == 422
    response = client.post("/api/search", json={"q": "x", "k": "many"})
    assert response.status_code == 422 and any("k" in d["loc"] for d in response.json()["detail"])


def test_documents_and_404(client: httpx.Client) -> None:
    document = client.get("/api/documents/frus1951v07p2-d1").json()
    assert document["date"] == "1951-01-02" and document["text"].startswith("Washington")
    assert document["url"] == "https://history.state.gov/historicaldocuments/frus1951v07p2/d1"
    missing = client.get("/api/documents/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_health_stats_and_openapi(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "documents": 343}
    assert client.get("/api/stats").json()["documents"] == 343
    assert "/api/search" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_ids_with_slashes_are_reachable(seed_on, tmp_path) -> None:
    from conftest import LiveServer, write_jsonl

    path = write_jsonl(tmp_path / "slash.jsonl", [{"id": "box 3/folder 7", "summary": "A memorandum on Kaesong."}])
    seed_on.ingest([path])
    with LiveServer(seed_on.app()) as server:
        document = httpx.get(f"{server.url}/api/documents/box%203%2Ffolder%207", timeout=30)
        assert document.status_code == 200 and document.json()["id"] == "box 3/folder 7"
        page = httpx.get(f"{server.url}/documents/box%203%2Ffolder%207", timeout=30)
        assert page.status_code == 200 and "A memorandum on Kaesong." in page.text
        assert httpx.get(f"{server.url}/api/documents/..%2F..%2Fetc%2Fpasswd", timeout=30).status_code == 404
