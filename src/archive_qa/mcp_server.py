"""An MCP server over an archive: read-only search, ask, document, cite and people tools (stdio or HTTP).

Run `python -m archive_qa.mcp_server --index DIR` for stdio (what desktop MCP clients launch), or serve
`http_app(archive)` / `mount(app, archive)` for the streamable HTTP transport.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.applications import Starlette

from . import __version__, responses, settings
from .api.ask import MAX_HISTORY, Turn
from .api.schemas import check_date, check_people, check_question
from .archive import Archive, open_index
from .citations import bibtex, chicago, csl_item, ris
from .documents import Document

log = logging.getLogger(__name__)

NAME = "archive_qa"
INSTRUCTIONS = ("An archive of dated historical documents. `search` ranks documents for a question (dates and "
                "people in the question are read as filters), `ask` answers with every sentence cited, "
                "`get_document` returns one whole document, `get_passage` the exact words of a cited span, "
                "`cite` formats a citation, `people` tells who a "
                "name refers to. Quote document ids and dates from the results; never invent them.")
STYLES: dict[str, Callable[[Document], str]] = {  # a new style: one entry
    "chicago": chicago, "bibtex": bibtex, "ris": lambda doc: ris([doc]),
    "csl-json": lambda doc: json.dumps(csl_item(doc), ensure_ascii=False)}
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def build_server(archive: Archive) -> MCPServer:
    """An MCP server whose tools read `archive` (nothing is ever written)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = MCPServer(NAME, title="Archive QA", instructions=INSTRUCTIONS, version=__version__,
                       log_level="WARNING")
    root.handlers[:] = handlers  # MCPServer calls logging.basicConfig; logging stays the application's
    root.setLevel(level)

    @server.tool(annotations=READ_ONLY)
    def search(question: Annotated[str, Field(description="the question, in plain words")],
               k: Annotated[int, Field(ge=1, le=100, description="number of results")] = 10,
               date_from: Annotated[str | None, Field(description="earliest date: 1951, 1951-07, 'July 1951'")] = None,
               date_to: Annotated[str | None, Field(description="latest date")] = None,
               person: Annotated[list[str] | None, Field(description="only documents naming these people")] = None,
               mode: Annotated[Literal["hybrid", "dense", "lexical"], Field(description="how to rank")] = "hybrid",
               ) -> responses.Search:
        """Rank the archive's documents for a question: dated results with summaries and citations."""
        question = _checked("question", check_question, question)
        return responses.Search.model_validate(_call(archive.search, question, k=k, date_from=_checked("date_from", check_date, date_from),
                     date_to=_checked("date_to", check_date, date_to),
                     person=_checked("person", check_people, person or []), mode=mode))

    @server.tool(annotations=READ_ONLY)
    def ask(question: Annotated[str, Field(description="the question, in plain words")],
            history: Annotated[list[Turn] | None, Field(
                max_length=MAX_HISTORY,
                description="earlier turns of this thread, oldest first: each {question, query?, citations?}; "
                            "an earlier `ask` result can be passed back as it is")] = None,
            ) -> responses.Answer:
        """Answer from the documents, every sentence cited [n]; follow-ups ("and later?") read the history."""
        question = _checked("question", check_question, question)
        return responses.Answer.model_validate(
            _call(archive.ask, question, [turn.model_dump() for turn in history or []]))

    @server.tool(annotations=READ_ONLY)
    def get_document(id: Annotated[str, Field(description="a document id from search or ask")]
                     ) -> responses.Document:
        """One whole document by id, full text included, with its citation in every standard format."""
        found = archive.document_json(id) if id and id.strip() else None
        if found is None:
            raise ToolError(f"id: no document with id {id!r}; search finds ids")
        return responses.Document.model_validate(found)

    @server.tool(annotations=READ_ONLY)
    def get_passage(id: Annotated[str, Field(description="a document id from search or ask")],
                    field: Annotated[Literal["text", "summary", "title"], Field(description="the field")] = "text",
                    start: Annotated[int, Field(ge=0, description="first character, as in a citation's passage")] = 0,
                    end: Annotated[int, Field(ge=1, description="character after the last")] = 1,
                    ) -> responses.Passage:
        """The exact words of a cited span (a citation's `passage`, or any field:start-end of a document)."""
        doc = _document(archive, id)
        value = getattr(doc, field) or ""
        if not start < end <= len(value):
            raise ToolError(f"end: the span {start}-{end} does not lie inside the {field} "
                            f"({len(value)} characters) of {id!r}")
        return responses.Passage(field=field, start=start, end=end, text=value[start:end])

    @server.tool(annotations=READ_ONLY)
    def cite(id: Annotated[str, Field(description="a document id from search or ask")],
             style: Annotated[str, Field(description="citation style", json_schema_extra={"enum": list(STYLES)})]
             = "chicago") -> responses.CitationText:
        """A citation of one document: Chicago, BibTeX, RIS or CSL-JSON."""
        formatter = STYLES.get(style)
        if formatter is None:
            raise ToolError(f"style: must be one of {', '.join(STYLES)}")
        return responses.CitationText(id=id, style=style, citation=formatter(_document(archive, id)))

    @server.tool(annotations=READ_ONLY)
    def people(name: Annotated[str, Field(description="a name as any document writes it, e.g. 'Filippov'")]
               ) -> responses.Person:
        """Who a name refers to: the canonical person, the other ways archives write them, life dates, documents."""
        if not name or not name.strip():
            raise ToolError("name: must not be empty")
        found = archive.person(name)
        if found is None:
            raise ToolError(f"name: no person known as {name.strip()!r} in this archive")
        return responses.Person.model_validate(found)

    return server


def _checked(parameter: str, check: Callable[[Any], Any], value: Any) -> Any:
    """`check(value)`, a ValueError becoming a tool error that names the parameter."""
    try:
        return check(value)
    except ValueError as error:
        raise ToolError(f"{parameter}: {error}") from None


def _call(method: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """An Archive call; its ValueErrors (messages start with the parameter's name) become tool errors."""
    try:
        return method(*args, **kwargs)
    except ValueError as error:
        raise ToolError(str(error)) from None


def _document(archive: Archive, doc_id: str) -> Document:
    """The document with this id, else a tool error naming `id`."""
    doc = archive.document(doc_id) if doc_id and doc_id.strip() else None
    if doc is None:
        raise ToolError(f"id: no document with id {doc_id!r}; search finds ids")
    return doc


def http_app(archive: Archive, *, path: str = "/", stateless: bool = True,
             transport_security: TransportSecuritySettings | None = None) -> Starlette:
    """An ASGI app serving the tools over streamable HTTP at `path` (for `app.mount("/mcp", ...)`).

    Its lifespan runs the SDK's session manager: a parent app must enter `app.router.lifespan_context(app)`
    in its own lifespan (Starlette does not run a mounted app's lifespan), once. `stateless` (default) keeps
    no session between requests, so it works under several uvicorn workers. `transport_security` None
    keeps the SDK's DNS-rebinding guard, which accepts Host headers of 127.0.0.1, localhost and [::1] only.
    """
    return build_server(archive).streamable_http_app(streamable_http_path=path, stateless_http=stateless,
                                                      json_response=stateless,
                                                      transport_security=transport_security)


def mount(app: Starlette, archive: Archive, path: str = "/mcp", **options: Any) -> Starlette:
    """Serve the tools at exactly `path` of a FastAPI or Starlette app (no redirect), its lifespan chained.

    Returns the MCP sub-app; `options` go to `http_app`.
    """
    sub = http_app(archive, path=path, **options)
    app.router.add_route(path, sub, include_in_schema=False)  # an ASGI app answering every method at `path`
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        async with sub.router.lifespan_context(sub), outer(parent) as state:
            yield state

    app.router.lifespan_context = lifespan
    return sub


def run_stdio(index_dir: str | Path) -> None:
    """Open the index, then serve the tools over stdin/stdout until the client closes them."""
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the protocol: nothing else may reach it
        archive = open_index(index_dir)
        archive.embedder.prepare_questions()
    log.info("serving %s (%d documents) over stdio", index_dir, archive.store.count())
    build_server(archive).run("stdio")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m archive_qa.mcp_server --index DIR`: the MCP server over stdio; logs go to stderr."""
    parser = argparse.ArgumentParser(prog="archive_qa.mcp_server", description=__doc__)
    parser.add_argument("--index", default=settings.get("index_dir"), help="index directory (ARCHIVE_QA_INDEX)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from .embedding import ModelNotFoundError
    from .store import IndexError_

    try:
        run_stdio(args.index)
    except (IndexError_, ModelNotFoundError, ValueError) as error:
        log.error("cannot serve %s: %s", args.index, error)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
