"""The FastAPI application: opens the index once and mounts one router per feature."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

from .. import __version__, memory, responses, settings
from ..archive import Archive, open_index
from ..mcp_server import mount
from . import ask, facets, limits, pages, search
from .fast_search import SearchFastPath
from .typed import typed

log = logging.getLogger(__name__)


def create_app(index_dir: str | Path | None = None, archive: Archive | None = None) -> FastAPI:
    """The service over one index directory (default: the ARCHIVE_QA_INDEX setting)."""
    app = FastAPI(title="archive_qa", version=__version__,
                  description="Ask an archive of dated documents a question; get the dated sources back, cited.")
    app.state.archive = archive or open_index(index_dir or settings.get("index_dir"))
    app.state.archive.embedder.prepare_questions()  # the first request does not wait for tracing
    memory.manage()  # a server's native heap stays near its working set (archive_qa/memory.py)
    app.add_middleware(SearchFastPath, fastapi=app)  # inside the limits: they apply to it too
    limits.install(app)
    app.include_router(search.router)
    app.include_router(ask.router)
    app.include_router(facets.router)
    pages.install(app)
    mount(app, app.state.archive)  # MCP tools over streamable HTTP at /mcp

    @app.get("/healthz", tags=["health"], response_model=responses.Health)
    def healthz(request: Request) -> Response:
        """Liveness and the index's size."""
        return typed(responses.Health, {"status": "ok", "documents": request.app.state.archive.store.count()})

    return app
