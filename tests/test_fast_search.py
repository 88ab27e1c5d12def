"""GET /api/search's short path (api/fast_search.py): it reads only what FastAPI reads the same way, and answers
with FastAPI's bytes; everything else reaches the FastAPI route. Over a real server, on both stores."""

from __future__ import annotations

import httpx
import pytest

from archive_qa.api.fast_search import read_query

QUESTION = "Formosa strategic importance"


@pytest.mark.parametrize(("query", "expected"), [
    (b"q=Formosa", {"q": "Formosa", "k": 10, "mode": "hybrid", "interpret": True, "person": [], "date_from": None}),
    (b"q=+Formosa+&k=7&mode=dense&interpret=false", {"q": "Formosa", "k": 7, "mode": "dense", "interpret": False}),
    (b"q=x&k=100&interpret=0&format=json", {"k": 100, "interpret": False}),
    (b"q=x&person=Rusk&person=Acheson&region=East+Asia", {"person": ["Rusk", "Acheson"], "region": ["East Asia"]}),
    (b"q=x&date_from=July+1951&date_to=", {"date_from": "July 1951", "date_to": ""}),
    (b"q=x&unknown=1&unknown=2", {"q": "x"}),  # FastAPI ignores parameters it does not declare
])
def test_plain_queries_are_read_here(query: bytes, expected: dict) -> None:
    body = read_query(query)
    assert body is not None
    for name, value in expected.items():
        assert getattr(body, name) == value, name


@pytest.mark.parametrize("query", [
    b"", b"k=5",  # no question: FastAPI's 422
    b"q=a&q=b",  # given twice: FastAPI keeps the last, the route decides
    b"q=x&k=0", b"q=x&k=101", b"q=x&k=1e1", b"q=x&k=+5", b"q=x&k=", b"q=x&k=%D9%A3",  # k not 1..100 in ASCII digits
    b"q=x&mode=Dense", b"q=x&mode=fuzzy", b"q=x&interpret=yes", b"q=x&interpret=True",  # pydantic's other spellings
    b"q=x&format=csv", b"q=%20", b"q=x&date_from=Smarch+1951", b"q=x&person=" + b"x" * 201,
])
def test_anything_else_goes_to_the_route(query: bytes) -> None:
    assert read_query(query) is None


@pytest.fixture(scope="module")
def client(bundled_service):
    """The bundled collection's service on the embedded store, then on PostgreSQL."""
    with httpx.Client(base_url=bundled_service.url, timeout=30) as http:
        yield http


def test_the_short_path_sends_the_routes_bytes(client: httpx.Client) -> None:
    short = client.get("/api/search", params={"q": QUESTION, "k": 6, "mode": "hybrid", "person": "Rusk"})
    route = client.post("/api/search", json={"q": QUESTION, "k": 6, "mode": "hybrid", "person": ["Rusk"]})
    assert short.status_code == route.status_code == 200
    assert short.content == route.content
    assert short.headers["content-type"] == route.headers["content-type"] == "application/json"
    assert int(short.headers["content-length"]) == len(short.content)
    declined = client.get("/api/search", params={"q": QUESTION, "k": 6, "person": "Rusk", "interpret": "True"})
    assert declined.content == short.content  # the same question through FastAPI's GET route


@pytest.mark.parametrize("params", [
    {"q": "what did Stalin say about the armistice talks?", "mode": "dense"},  # a person read from the question
    {"q": "telegrams of July 1951 about Kaesong", "k": 3},  # a period read from the question
    {"q": "Kaesong", "date_from": "1951-08", "date_to": "1951-09", "mode": "lexical"},
    {"q": "July 1951 about Kaesong", "date_from": "1952"},  # explicit dates override the question's period
    {"q": "Mao", "k": 5},  # a person alone: browse
    {"q": "negotiations in East Asia", "region": "East Asia", "interpret": "false"},
    {"q": "qqqq zzzz xxxx"},  # nothing answers
    {"q": "Korea", "date_from": "1800", "date_to": "1801"},  # the filters leave nothing
])
def test_the_short_path_sends_the_validated_models_bytes(client: httpx.Client, params: dict) -> None:
    """The short path serializes the search's dict unvalidated; every key and its order must be the model's."""
    short = client.get("/api/search", params=params)
    route = client.post("/api/search", json={**params, "interpret": params.get("interpret") != "false",
                                             **({"region": [params["region"]]} if "region" in params else {})})
    assert short.status_code == route.status_code == 200
    assert short.content == route.content


def test_route_answers_and_errors_are_unchanged(client: httpx.Client) -> None:
    twice = client.get("/api/search?q=Stalin&q=Formosa&k=3")
    assert twice.status_code == 200 and twice.json()["query"] == "Formosa"  # FastAPI's reading: the last one
    bad = client.get("/api/search", params={"q": "x", "k": "1e1"})
    assert bad.status_code == 422 and any("k" in detail["loc"] for detail in bad.json()["detail"])
    assert client.get("/api/search", params={"q": "x", "format": "csv", "k": 2}).headers["content-type"].startswith(
        "text/csv")
