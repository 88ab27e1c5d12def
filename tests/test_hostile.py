"""Hostile input over real HTTP: fuzzing from the OpenAPI schema, oversized bodies, path traversal, CORS, escaping.

The tests taking `server` or `client` run on both stores (`store_kind`, conftest): the same hostile collection
served from its index directory, then from its copy in PostgreSQL. The CORS configuration test is about the
app, not the store, and stays on the index directory.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from archive_qa.api.app import create_app
from archive_qa.indexing import ingest
from conftest import MODEL, LiveServer, write_jsonl

SCRIPT = "<script>alert('pwned')</script>"
HOSTILE = {"id": "evil-1", "date": "1951-08-28", "title": f"Telegram {SCRIPT}",
           "summary": f"Stalin on neutral countries {SCRIPT} <img src=x onerror=alert(1)>",
           "text": f"First paragraph {SCRIPT}.\n\nSecond \"quoted\" paragraph & <b>bold</b>.",
           "people": [f"Joseph Stalin{SCRIPT}"], "places": [f"Moscow{SCRIPT}"],
           "source": f"FRUS {SCRIPT}", "url": "javascript:alert(1)", "archive_ref": SCRIPT}


@pytest.fixture(scope="module")
def hostile_index(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed index plus one document with markup and script in every field."""
    import shutil

    path = tmp_path_factory.mktemp("hostile") / "index"
    shutil.copytree(seed_index, path)
    ingest(path, [write_jsonl(path.parent / "evil.jsonl", [HOSTILE])], MODEL, progress=False)
    return path


@pytest.fixture(scope="module")
def server(on_store, hostile_index: Path) -> Iterator[LiveServer]:
    """The service over the hostile collection on this param's store, CORS closed (the default)."""
    with LiveServer(on_store(hostile_index).app()) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def raw_get(server: LiveServer, target: str) -> tuple[int, bytes]:
    """GET a request target byte for byte (no client-side normalisation of `..` or `%2F`)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_schema_fuzzing_never_gets_a_server_error(server: LiveServer) -> None:
    """Every operation of /openapi.json, with valid and invalid data, answers below 500 with what the schema says."""
    import schemathesis
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                   status_code_conformance)

    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @given(case=schema.as_strategy(generation_mode=mode))
        @settings(max_examples=150, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            response = case.call(base_url=server.url, timeout=30)
            where = f"{case.method} {case.path} {case.path_parameters} {case.query} {case.body!r:.300}"
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code} {response.text[:200]}")
                return
            try:
                case.validate_response(response, checks=[response_schema_conformance, content_type_conformance,
                                                         status_code_conformance])
            except (Exception, BaseExceptionGroup) as error:  # schemathesis raises a group of the failed checks
                failures.append(f"{where} -> {response.status_code}: {str(error)[:400]}")

        call()
    assert failures == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_refused_with_413(client: httpx.Client, chunked: bool) -> None:
    body = json.dumps({"q": "Stalin", "person": ["x" * 100] * 1000}).encode()  # ~100 KB > 64 KiB
    content = iter([body[i:i + 8192] for i in range(0, len(body), 8192)]) if chunked else body
    for path in ("/api/search", "/api/ask"):
        response = client.post(path, content=content, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert "max_body_bytes" in response.json()["detail"][0]["msg"]
        content = iter([body]) if chunked else body


@pytest.mark.parametrize("request_args", [
    ("GET", "/api/search", {"params": {"q": "x" * 1001}}),
    ("POST", "/api/search", {"json": {"q": "x" * 1001}}),
    ("POST", "/api/ask", {"json": {"question": "x" * 1001}}),
], ids=["get-search", "post-search", "ask"])
def test_oversized_question_is_refused_with_422_naming_it(client: httpx.Client, request_args) -> None:
    method, path, kwargs = request_args
    response = client.request(method, path, **kwargs)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] in ("q", "question")
    assert "at most 1000 characters" in response.text


def test_a_long_url_is_a_414_naming_the_limit(server: LiveServer) -> None:
    status, body = raw_get(server, "/api/search?q=" + "x" * 40_000)
    assert status == 414
    assert "max_url_bytes" in json.loads(body)["detail"][0]["msg"]


def test_a_url_past_the_parser_buffer_leaves_the_server_answering(server: LiveServer,
                                                                  client: httpx.Client) -> None:
    try:  # h11 refuses a head this size before the app sees it: a bare 400, or a reset while still sending
        status, _ = raw_get(server, "/api/search?q=" + "x" * 1_000_000)
        assert status == 400
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("body", [
    {"q": "Stalin", "person": ["a"] * 5000},
    {"q": "Stalin", "person": ["x" * 5000]},
    {"q": "Stalin", "k": 10**30},
], ids=["many-people", "long-name", "huge-k"])
def test_unbounded_filters_are_refused_with_422(client: httpx.Client, body: dict) -> None:
    response = client.post("/api/search", json=body)
    assert response.status_code == 422


@pytest.mark.parametrize("raw", [
    b'{"q": "Stalin \\ud800"}', b'{"q": "Stalin", "person": ["\\udfff"]}', b'{"q": "Stalin", "k": 1e999}',
    b'{"q": "Stalin", "k": NaN}', b'{"question": "Stalin \\ud800"}', b"[" * 20000, b"\xff\xfe{}",
], ids=["surrogate-q", "surrogate-person", "infinite-k", "nan-k", "surrogate-ask", "deep-nesting", "not-utf8"])
def test_malformed_json_bodies_get_4xx_not_5xx(client: httpx.Client, raw: bytes) -> None:
    path = "/api/ask" if b"question" in raw else "/api/search"
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    response.json()  # and the error itself is valid JSON


def test_many_people_on_the_page_and_in_ask_are_refused_or_answered(client: httpx.Client) -> None:
    ask = client.post("/api/ask", json={"question": "Stalin", "filters": {"person": ["a"] * 5000}})
    assert ask.status_code == 422
    page = client.get("/", params=[("q", "Stalin")] + [("person", "a")] * 300)
    assert page.status_code < 500


@pytest.mark.parametrize("target", [
    "/api/documents/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/api/documents/../../../../etc/passwd",
    "/documents/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2F..%2Fpyproject.toml", "/static/../../pyproject.toml", "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd", "/api/documents/%00", "/static/..%5C..%5Cpyproject.toml",
])
def test_no_path_reaches_outside_the_data(server: LiveServer, target: str) -> None:
    status, body = raw_get(server, target)
    assert status in (400, 404), (status, body[:200])
    assert b"root:" not in body and b"[project]" not in body


def test_static_files_are_still_served(server: LiveServer) -> None:
    static = Path(__file__).resolve().parent.parent / "web" / "static"
    name = next(p.name for p in sorted(static.iterdir()) if p.is_file())
    status, body = raw_get(server, f"/static/{name}")
    assert status == 200 and body == (static / name).read_bytes()


def test_cors_is_closed_by_default(client: httpx.Client) -> None:
    origin = {"Origin": "https://evil.example"}
    got = client.get("/api/search", params={"q": "Stalin"}, headers=origin)
    assert got.status_code == 200 and "access-control-allow-origin" not in got.headers
    preflight = client.options("/api/search", headers={**origin, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_opens_only_for_configured_origins(hostile_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_QA_CORS_ORIGINS", "https://reader.example.org, http://localhost:3000")
    with LiveServer(create_app(hostile_index)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        allowed = {"Origin": "https://reader.example.org"}
        got = http.get("/api/search", params={"q": "Stalin"}, headers=allowed)
        assert got.headers["access-control-allow-origin"] == "https://reader.example.org"
        preflight = http.options("/api/search", headers={**allowed, "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://reader.example.org"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        other = {"Origin": "https://evil.example"}
        assert "access-control-allow-origin" not in http.get("/api/search", params={"q": "Stalin"},
                                                             headers=other).headers
        refused = http.options("/api/search", headers={**other, "Access-Control-Request-Method": "POST"})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


def test_script_in_document_fields_is_escaped_in_every_page(client: httpx.Client) -> None:
    pages = {
        "document": client.get("/documents/evil-1"),
        "answer": client.get("/", params={"q": "Stalin on neutral countries"}),
        "form echo": client.get("/", params={"q": f"neutral {SCRIPT}", "person": SCRIPT, "date_from": SCRIPT}),
        "missing document": client.get(f"/documents/{SCRIPT}"),
    }
    for name, page in pages.items():
        assert page.status_code in (200, 400, 404), name
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, name
        assert 'href="javascript:' not in page.text.replace("'", '"'), name
    assert "&lt;script&gt;alert(" in pages["document"].text
    assert client.get("/api/documents/evil-1").json()["title"] == HOSTILE["title"]  # the data is kept as given
