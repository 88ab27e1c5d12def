"""Typed responses: the Python call, the CLI's --json, the HTTP API and OpenAPI share one shape per response."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from archive_qa import responses
from archive_qa.archive import Archive, open_index
from archive_qa.cli import main

QUESTION = "what did Stalin say about neutral countries?"


@pytest.fixture(scope="module")
def archive(bundled_index: Path) -> Archive:
    return open_index(bundled_index)


@pytest.fixture(scope="module")
def client(bundled_server):
    with httpx.Client(base_url=bundled_server.url, timeout=60) as http:
        yield http


def exactly(model: type[BaseModel], value: dict) -> None:
    """`value` is `model`'s shape with nothing missing, added or converted on the way through."""
    plain = json.loads(json.dumps(value))
    assert model.model_validate(plain).model_dump(mode="json") == plain


def test_python_calls_return_exactly_the_declared_shapes(archive: Archive) -> None:
    exactly(responses.Search, archive.search(QUESTION, k=5))
    exactly(responses.Search, archive.search("zzqx unrelated words", k=3))
    answered = archive.ask(QUESTION)
    exactly(responses.Answer, answered)
    exactly(responses.Answer, archive.ask("and what did Mao say later?",
                                          [{"question": QUESTION, "citations": answered["citations"]}]))
    exactly(responses.Document, archive.document_json("seed-03"))
    exactly(responses.Stats, archive.stats())
    exactly(responses.Person, archive.person("Filippov"))


def test_an_undeclared_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        responses.Stats.model_validate({"documents": 1, "model": "m", "dimension": 3, "index_type": "flat",
                                        "generation": "g", "bytes_on_disk": 1, "surprise": True})


def test_cli_json_matches_the_python_call(archive: Archive, bundled_index: Path, capsys) -> None:
    for argv, expected in (
            (["search", QUESTION, "-k", "4"], archive.search(QUESTION, k=4)),
            (["ask", QUESTION], archive.ask(QUESTION)),
            (["show", "seed-03"], archive.document_json("seed-03")),
            (["stats"], archive.stats())):
        main([*argv, "--index", str(bundled_index), "--json"])
        printed = json.loads(capsys.readouterr().out)
        assert printed == json.loads(json.dumps(expected)), argv[0]


def test_http_responses_match_the_python_call(archive: Archive, client: httpx.Client) -> None:
    assert client.get("/api/search", params={"q": QUESTION, "k": 4}).json() == archive.search(QUESTION, k=4)
    assert client.post("/api/ask", json={"question": QUESTION}).json() == json.loads(
        json.dumps(archive.ask(QUESTION)))
    assert client.get("/api/documents/seed-03").json() == archive.document_json("seed-03")
    person = client.get("/api/people/Filippov").json()
    assert person == archive.person("Filippov") and person["name"] == "Joseph Stalin"
    missing = client.get("/api/people/Nobody%20Atall")
    assert missing.status_code == 404 and "Nobody Atall" in missing.json()["detail"]


def test_openapi_declares_a_response_schema_for_every_json_route(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    expected = {("/api/search", "get"): "Search", ("/api/search", "post"): "Search", ("/api/ask", "post"): "Answer",
                ("/api/documents/{doc_id}", "get"): "Document", ("/api/people/{name}", "get"): "Person",
                ("/api/stats", "get"): "Stats", ("/api/facets", "get"): "Facets", ("/healthz", "get"): "Health"}
    for (path, method), model in expected.items():
        content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert content["schema"]["$ref"] == f"#/components/schemas/{model}", (path, method)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"]["200"].get("content", {})
            if "application/json" in content and path.startswith("/api"):
                assert content["application/json"]["schema"], (path, method)
    result = spec["components"]["schemas"]["Result"]
    assert {"score", "citation", "duplicates", "date", "title", "summary"} <= set(result["properties"])
