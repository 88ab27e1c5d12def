"""Guards: a URL-length cap (414), a body-size cap (413), safe 422s, a 503 naming a damaged index file, CORS closed unless configured."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import settings
from ..store import DATABASE_ERRORS
from ..store.layout import DATABASE, rebuild_hint

log = logging.getLogger(__name__)


class UrlSizeLimit:
    """Refuse request targets (path and query string) over `max_bytes` with 414, naming the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            if target > self.max_bytes:
                await _refuse(send, 414, "url", "uri_too_long",
                              f"request target over {self.max_bytes} bytes (setting max_url_bytes, "
                              "ARCHIVE_QA_MAX_URL_BYTES); send long questions as a POST body")
                return
        await self.app(scope, receive, send)


def server_options() -> dict[str, Any]:
    """uvicorn options every server of this app runs with (the CLI's and the tests' alike).

    uvicorn picks httptools and uvloop, both dependencies, over h11 and asyncio (a few tenths of a millisecond
    less server CPU a request here, near this box's noise). Where they are missing it falls back to h11,
    whose buffer is set here:
    h11 gives up on a request head over its buffer with a bare 400 and closes a connection the client is still
    writing to, which the client may see as a reset instead of the answer. A buffer above `max_url_bytes` lets
    every target up to twice the limit reach `UrlSizeLimit` and get a readable 414.
    """
    return {"h11_max_incomplete_event_size": 2 * settings.get("max_url_bytes") + 16384}


async def _refuse(send: Send, status: int, where: str, kind: str, message: str) -> None:
    """An error response in the API's error shape, on a connection that then closes."""
    body = json.dumps({"detail": [{"loc": [where], "type": kind, "msg": message}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, by Content-Length or while the body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []  # the body is read here, in full, only while it stays under the cap
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send) -> None:
        """A 413 in the API's error shape, naming the limit and its setting."""
        await _refuse(send, 413, "body", "too_large",
                      f"request body over {self.max_bytes} bytes (setting max_body_bytes, ARCHIVE_QA_MAX_BODY_BYTES)")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands the app the already-read body once, then defers to the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's own 422, with echoed input made encodable (a body may hold NaN, 1e999 or lone surrogates)."""
    return JSONResponse(status_code=422, content={"detail": _encodable(jsonable_encoder(error.errors()))})


async def damaged_index(request: Request, error: Exception) -> JSONResponse:
    """A database page that fails only when read: 503 naming the file and the commands that repair it."""
    store = request.app.state.archive.store
    path = store.generation / DATABASE
    log.error("%s is damaged: %s", path, error)
    return JSONResponse(status_code=503, content={"detail": (
        f"{path} is damaged ({error}); run `archive-qa check --index {store.index_dir}`, then "
        f"{rebuild_hint(store.index_dir)}")})


def _encodable(value: Any) -> Any:
    """`value` with non-finite numbers as strings and lone surrogates backslash-escaped."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, (list, tuple)):
        return [_encodable(item) for item in value]
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    return value


def install(app: FastAPI) -> None:
    """Add the URL and body-size caps and safe 422s, and CORS only for the origins the `cors_origins` setting names."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.get("max_body_bytes"))
    app.add_middleware(UrlSizeLimit, max_bytes=settings.get("max_url_bytes"))
    app.add_exception_handler(RequestValidationError, validation_error)
    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, damaged_index)
    origins = [origin.strip() for origin in settings.get("cors_origins").split(",") if origin.strip()]
    if origins:
        log.info("CORS allowed for %s", ", ".join(origins))
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600)

