"""GET /api/search for a well-formed query string, answered before FastAPI routes and solves its parameters.

FastAPI spends more on a search request than the ranking's own Python besides the encoder: it matches the
path against every route, solves and validates eleven query parameters through pydantic, and wraps the
endpoint's response. This ASGI layer answers the common request itself, with the same checks
(`search.check_query`), the same search (`search.run_search`) and the bytes of the same JSON (`typed`). Anything it does not read exactly as FastAPI would (a parameter given twice, a `k` that is not
plain digits, `format` other than json, an unusual `interpret`, a root path) and any error raised on the
way goes to the FastAPI route untouched, which then gives its own answer: 422s, exports, 503s and OpenAPI
are FastAPI's as before. `tests/test_fast_search.py` checks both paths give the same bytes.

Where the store is this process's own files (`StoreReader.in_process`), a search has already finished on it
(its first one builds the generation's caches: 382 ms on FRUS here) and no other request is open, the search
runs on the event loop's thread: handing it to a worker thread and back cost 0.3-0.7 ms of a 7-9 ms
search here (two thread wake-ups and the GIL changing hands twice), and with nothing else open there is nothing
for the loop to do meanwhile. With any other request open, or a store that waits on a server, it goes to the
thread pool, so concurrent requests still overlap as before (bench/load.py).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from .schemas import SearchBody
from .search import check_query, run_search

log = logging.getLogger(__name__)

PATH = "/api/search"
LISTS = ("person", "place", "region")
SCALARS = ("q", "k", "date_from", "date_to", "mode", "interpret", "format")
MODES = frozenset({"hybrid", "dense", "lexical"})
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # the spellings read here; pydantic's others go on


def read_query(query_string: bytes) -> SearchBody | None:
    """The request's search, where every known parameter reads plainly; None sends it to FastAPI's route."""
    scalars: dict[str, str] = {}
    lists: dict[str, list[str]] = {name: [] for name in LISTS}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in lists:
            lists[name].append(value)
        elif name in SCALARS:
            if name in scalars:
                return None  # FastAPI keeps the last; let it
            scalars[name] = value
    k_text = scalars.get("k", "10")
    mode = scalars.get("mode", "hybrid")
    interpret = BOOLEANS.get(scalars.get("interpret", "true"))
    if ("q" not in scalars or not (k_text.isascii() and k_text.isdigit() and len(k_text) <= 3)
            or not 1 <= int(k_text) <= 100 or mode not in MODES or interpret is None
            or scalars.get("format", "json") != "json"):
        return None
    try:
        q = check_query(scalars["q"], scalars.get("date_from"), scalars.get("date_to"), **lists)
    except HTTPException:
        return None  # FastAPI's route gives the 422 in its own shape
    return SearchBody.model_construct(q=q, k=int(k_text), date_from=scalars.get("date_from"),
                                      date_to=scalars.get("date_to"), mode=mode, interpret=interpret, **lists)


class SearchFastPath:
    """Answer well-formed GET /api/search requests directly; pass everything else to the app."""

    def __init__(self, app: ASGIApp, fastapi: Any) -> None:
        self.app = app
        self.fastapi = fastapi  # whose state holds the archive
        self.open = 0  # HTTP requests inside this layer now (counted on the event loop's thread only)
        self.warm: object | None = None  # the store a search last finished on (its caches are built)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.open += 1
        try:
            if scope["method"] == "GET" and scope["path"] == PATH and not scope.get("root_path"):
                body = read_query(scope.get("query_string", b""))
                if body is not None and await self._answered(body, send):
                    return
            await self.app(scope, receive, send)
        finally:
            self.open -= 1

    async def _answered(self, body: SearchBody, send: Send) -> bool:
        """Send the search's response and say True; False (nothing sent) where it raised, for the route to answer."""
        try:
            store = self.fastapi.state.archive.store
            if self.open == 1 and store.in_process and store is self.warm:
                payload = self._answer(body)  # alone, local and warm: on this thread, no hand-over
            else:  # a generation's first search builds its caches (people, postings): not on the loop
                payload = await run_in_threadpool(self._answer, body)
            self.warm = store
        except Exception as error:  # the route runs it again and answers as FastAPI does
            log.debug("fast search path gave way to the route: %r", error)
            return False
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(payload)).encode("latin-1")), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})
        return True

    def _answer(self, body: SearchBody) -> bytes:
        """The search's JSON, the bytes the route's `typed(responses.Search, ...)` sends, without validating it.

        `search.search` builds every key of `responses.Search` in the model's order, so pydantic's own
        serializer gives the model's bytes straight from the dict: 0.05 ms against 0.13-0.19 ms for
        validating and dumping a FRUS response (tests/test_fast_search.py holds the two to the same bytes).
        """
        return to_json(run_search(self.fastapi.state.archive, body))
