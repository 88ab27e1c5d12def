"""The MCP server through the SDK's own client: stdio (a real subprocess) and streamable HTTP (a real port)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from conftest import ROOT, LiveServer  # noqa: E402

SEED_QUESTION = "what did Stalin say about neutral countries?"
TOOLS = {"search", "ask", "get_document", "get_passage", "cite", "people"}
TIMEOUT = 120  # seconds for a whole scenario (the stdio server loads the model first)

Scenario = Callable[[ClientSession], Awaitable[None]]


def run(connect: Callable[[], contextlib.AbstractAsyncContextManager[Any]], scenario: Scenario) -> None:
    """Open a transport, initialize a ClientSession over it and run the scenario, within TIMEOUT."""
    async def main() -> None:
        with anyio.fail_after(TIMEOUT):
            async with connect() as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                await scenario(session)

    try:
        anyio.run(main)
    except BaseExceptionGroup as group:  # the task groups wrap a failed assertion: raise it plainly
        while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
            group = group.exceptions[0]
        raise group from None


async def call(session: ClientSession, tool: str, /, **arguments: Any) -> Any:
    """A successful tool call's structured content (its text content must be the same JSON)."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}({arguments}) failed: {_text(result)}"
    assert result.structured_content is not None
    assert json.loads(_text(result)) == result.structured_content
    return result.structured_content


async def refused(session: ClientSession, tool: str, /, **arguments: Any) -> str:
    """A tool call that must come back as an MCP tool error; its message."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool}({arguments}) should have failed"
    return _text(result)


def _text(result: Any) -> str:
    """The text of a result's content blocks."""
    return "".join(getattr(block, "text", "") for block in result.content)


async def lists_the_read_only_tools(session: ClientSession) -> None:
    """All the tools, each with an input schema and an output schema, marked read-only."""
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.input_schema["properties"], tool.name
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
        assert tool.description
        assert tool.annotations and tool.annotations.read_only_hint is True
    assert tools["search"].input_schema["required"] == ["question"]
    assert tools["search"].input_schema["properties"]["k"]["maximum"] == 100
    assert tools["cite"].input_schema["properties"]["style"]["enum"] == ["chicago", "bibtex", "ris", "csl-json"]
    assert set(tools["people"].output_schema["properties"]) == {"name", "aliases", "born", "died", "documents",
                                                                "other_names", "timeline", "undated", "items", "page"}
    assert {"id", "date", "text"} <= set(tools["get_document"].output_schema["properties"])


async def answers_with_real_content(session: ClientSession) -> None:
    """Each tool on the seed documents."""
    found = await call(session, "search", question=SEED_QUESTION, k=5)
    assert found["results"][0]["id"] == "seed-03"
    assert found["results"][0]["date"] == "1951-08-28"
    assert len(found["results"]) <= 5

    dated = await call(session, "search", question="armistice talks", date_from="1951-08", date_to="August 31, 1951",
                       mode="dense")
    assert sorted(r["id"] for r in dated["results"]) == ["seed-02", "seed-03"]  # 13 and 28 August 1951
    assert all("1951-08-01" <= (r["date"] or r["date_inferred"])[:10] <= "1951-08-31" for r in dated["results"])

    answered = await call(session, "ask", question=SEED_QUESTION)
    assert answered["answer"] and answered["citations"]
    assert "seed-03" in [c["id"] for c in answered["citations"]]
    follow_up = await call(session, "ask", question="and what did Mao say later?", history=[answered])
    assert follow_up["query"] != follow_up["question"]  # read with the previous question

    passage = answered["citations"][0]["passage"]
    quoted = await call(session, "get_passage", id=answered["citations"][0]["id"], **{
        key: passage[key] for key in ("field", "start", "end")})
    assert quoted == passage

    doc = await call(session, "get_document", id="seed-03")
    assert doc["id"] == "seed-03" and doc["date"] == "1951-08-28"
    assert "neutral countries" in doc["summary"]

    bib = await call(session, "cite", id="seed-03", style="bibtex")
    assert bib["id"] == "seed-03" and bib["style"] == "bibtex"
    assert bib["citation"].startswith("@misc{seed-03_1951,")
    chicago = await call(session, "cite", id="seed-03")
    assert chicago["style"] == "chicago" and chicago["citation"] != bib["citation"]
    assert "Stalin agrees with Mao" in chicago["citation"] and "1951" in chicago["citation"]

    stalin = await call(session, "people", name="Filippov")
    assert stalin["name"] == "Joseph Stalin"
    assert stalin["born"] == 1879 and stalin["died"] == 1953
    assert "filippov" in stalin["aliases"] and stalin["aliases"] == sorted(stalin["aliases"])
    assert stalin["documents"] >= 1


async def names_the_argument_of_a_bad_call(session: ClientSession) -> None:
    """Bad arguments come back as tool errors naming the argument; the server keeps answering."""
    assert "question" in await refused(session, "search", question="   ")
    assert "question" in await refused(session, "ask", question="")
    assert "id" in await refused(session, "get_document", id="no-such-document")
    assert "id: no document" in await refused(session, "cite", id="no-such-document")
    assert "style" in await refused(session, "cite", id="seed-03", style="apa")
    assert "\nk\n" in await refused(session, "search", question=SEED_QUESTION, k=0)
    assert "\nk\n" in await refused(session, "search", question=SEED_QUESTION, k=101)
    assert "\nmode\n" in await refused(session, "search", question=SEED_QUESTION, mode="semantic")
    assert "date_from" in await refused(session, "search", question=SEED_QUESTION, date_from="Smarch 1951")
    assert "date_to" in await refused(session, "search", question=SEED_QUESTION, date_to="1951-13")
    assert "name" in await refused(session, "people", name="Nobody Inparticular")
    assert "end" in await refused(session, "get_passage", id="seed-03", field="summary", start=0, end=99999)
    assert "field" in await refused(session, "get_passage", id="seed-03", field="body", start=0, end=5)
    assert "question" in await refused(session, "search")  # missing altogether
    found = await call(session, "search", question=SEED_QUESTION, k=1)
    assert found["results"][0]["id"] == "seed-03"


async def everything(session: ClientSession) -> None:
    """The three checks in one session."""
    await lists_the_read_only_tools(session)
    await answers_with_real_content(session)
    await names_the_argument_of_a_bad_call(session)


# --- stdio: `python -m archive_qa.mcp_server --index DIR` as a desktop client launches it ---------------

def test_stdio_server(seed_index: Path, tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", **{k: v for k, v in os.environ.items() if k.startswith(("ARCHIVE_QA_", "HF_"))}}
    params = StdioServerParameters(command=sys.executable, args=["-m", "archive_qa.mcp_server", "--index",
                                                                 str(seed_index)], env=env, cwd=ROOT)
    log = tmp_path / "server.log"
    with log.open("w") as errlog:
        try:
            run(lambda: stdio_client(params, errlog=errlog), everything)
        except BaseException:
            errlog.flush()
            print(log.read_text(), file=sys.stderr)
            raise


def test_stdio_server_refuses_a_missing_index(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "archive_qa.mcp_server", "--index", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2
    assert done.stdout == ""  # stdout is the protocol's: the reason goes to stderr
    assert str(tmp_path / "none") in done.stderr


# --- streamable HTTP: mounted into the service's FastAPI app, on a real loopback port ---------------------

@pytest.fixture(scope="module")
def seed_archive(seed_index: Path):
    from archive_qa.archive import open_index

    return open_index(seed_index)


@pytest.fixture(scope="module")
def service(seed_archive) -> Iterator[LiveServer]:
    """The service as `archive-qa serve` runs it: create_app mounts the MCP endpoint at /mcp."""
    from archive_qa.api.app import create_app

    with LiveServer(create_app(archive=seed_archive)) as server:
        yield server


def test_http_server_mounted_in_the_service(service: LiveServer) -> None:
    run(lambda: streamable_http_client(f"{service.url}/mcp"), everything)


def test_http_mount_leaves_the_rest_of_the_service(service: LiveServer) -> None:
    import httpx

    with httpx.Client(base_url=service.url, timeout=30) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/api/search", params={"q": SEED_QUESTION}).json()["results"][0]["id"] == "seed-03"
        assert "/mcp" not in http.get("/openapi.json").json()["paths"]
        # the SDK's DNS-rebinding guard: a foreign Host header is refused before any tool runs
        refused = http.post("/mcp", headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
                            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code in (400, 403, 421)


def test_http_app_under_a_plain_mount(seed_archive) -> None:
    """`app.mount("/mcp", http_app(archive))` with the sub-app's lifespan entered by the parent's."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from archive_qa.mcp_server import http_app

    mcp_app = http_app(seed_archive)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp_app.router.lifespan_context(mcp_app):
            yield

    async def scenario(session: ClientSession) -> None:
        await lists_the_read_only_tools(session)
        assert (await call(session, "get_document", id="seed-03"))["date"] == "1951-08-28"

    with LiveServer(Starlette(routes=[Mount("/mcp", app=mcp_app)], lifespan=lifespan)) as server:
        run(lambda: streamable_http_client(f"{server.url}/mcp/"), scenario)
