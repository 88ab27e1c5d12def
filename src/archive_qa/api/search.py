"""Search and document endpoints: /api/search, /api/documents/{id}, /api/stats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from .. import responses
from ..archive import Archive
from ..citations import chicago
from ..exports import FORMATS, export
from .errors import bad_parameter
from .typed import typed
from .schemas import SearchBody, check_date, check_people, check_question

router = APIRouter(prefix="/api", tags=["search"])


def archive_of(request: Request) -> Archive:
    """The app's open archive."""
    return request.app.state.archive


def check_query(q: str, date_from: str | None, date_to: str | None, **names: list[str]) -> str:
    """The question of a GET query string, checked with its dates and name filters; 422 names the parameter."""
    try:
        q = check_question(q)
    except ValueError as error:
        raise bad_parameter("query", "q", str(error)) from None
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        try:
            check_date(value)
        except ValueError as error:
            raise bad_parameter("query", name, str(error)) from None
    for name, values in names.items():
        try:
            check_people(values)
        except ValueError as error:
            raise bad_parameter("query", name, str(error)) from None
    return q


def run_search(archive: Archive, body: SearchBody) -> dict[str, Any]:
    """One search, shared by GET and POST."""
    return archive.search(body.q, k=body.k, date_from=body.date_from, date_to=body.date_to,
                          person=body.person, place=body.place, region=body.region, mode=body.mode,
                          interpret=body.interpret)


EXPORTS = {"description": "the ranked documents as a file when `format` is csv, ris, bibtex or csl-json",
           "content": {media_type.split(";")[0]: {} for media_type, _ in FORMATS.values()}}


@router.get("/search", response_model=responses.Search, responses={200: EXPORTS})
def search_get(
    request: Request,
    q: Annotated[str, Query(description="the question")],
    k: Annotated[int, Query(ge=1, le=100, description="number of results")] = 10,
    date_from: Annotated[str | None, Query(description="earliest date")] = None,
    date_to: Annotated[str | None, Query(description="latest date")] = None,
    person: Annotated[list[str], Query(description="only documents naming this person")] = [],  # noqa: B006
    place: Annotated[list[str], Query(description="only documents at or about this place")] = [],  # noqa: B006
    region: Annotated[list[str], Query(description="only documents in this region")] = [],  # noqa: B006
    mode: Annotated[str, Query(pattern="^(hybrid|dense|lexical)$")] = "hybrid",
    interpret: Annotated[bool, Query(description="read dates and people from the question")] = True,
    format: Annotated[str | None, Query(pattern="^(json|csv|ris|bibtex|csl-json)$",  # noqa: A002
                                        description="json (default), or the results as csv, ris, bibtex or "
                                                    "csl-json")] = None,
) -> Any:
    """Rank documents for a question; `format` exports the ranked documents instead of the JSON object."""
    q = check_query(q, date_from, date_to, person=person, place=place, region=region)
    body = SearchBody.model_construct(q=q, k=k, date_from=date_from, date_to=date_to, person=person, place=place,
                                      region=region, mode=mode, interpret=interpret)
    archive = archive_of(request)
    response = run_search(archive, body)
    if format in (None, "json"):
        return typed(responses.Search, response)
    found = archive.store.documents([r["id"] for r in response["results"]])
    documents = [found[r["id"]] for r in response["results"] if r["id"] in found]
    media_type, extension = FORMATS[format]
    return Response(export(documents, format), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="archive_qa-search.{extension}"'})


@router.post("/search", response_model=responses.Search, responses=responses.BAD_BODY)
def search_post(request: Request, body: SearchBody) -> Response:
    """Rank documents for a question given as a JSON body."""
    return typed(responses.Search, run_search(archive_of(request), body))


@router.get("/documents/{doc_id:path}", response_model=responses.Document, responses=responses.NOT_FOUND)
def document(request: Request, doc_id: str) -> Response:
    """One whole document, full text included, with its citation in every standard format."""
    found = archive_of(request).document_json(doc_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
    return typed(responses.Document, found)


@router.get("/people/{name:path}", response_model=responses.Person, responses=responses.NOT_FOUND)
def person(request: Request, name: str) -> Response:
    """Who a name refers to in this archive (any name a document or aliases file writes, e.g. 'Filippov'): their
    other names, life dates, documents per year and documents, oldest first."""
    found = archive_of(request).person(name)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no person known as {name!r} in this archive; "
                                                    "GET /api/facets lists the people it knows")
    return typed(responses.Person, found)


CITATION_FILES = {"description": "the citation file", "content": {
    "text/plain": {}, **{media_type.split(";")[0]: {} for style, (media_type, _) in FORMATS.items() if style != "csv"}}}


@router.get("/cite/{doc_id:path}", response_class=Response, responses={200: CITATION_FILES,
                                                                               **responses.NOT_FOUND})
def cite(request: Request, doc_id: str,
         style: Annotated[str, Query(pattern="^(chicago|bibtex|ris|csl-json)$")] = "chicago") -> Response:
    """One document's citation as a file: Chicago (text), BibTeX, RIS or CSL-JSON."""
    doc = archive_of(request).document(doc_id)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
    if style == "chicago":
        return Response(chicago(doc) + "\n", media_type="text/plain; charset=utf-8")
    media_type, extension = FORMATS[style]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in doc.id)
    return Response(export([doc], style), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{safe}.{extension}"'})


@router.get("/stats", response_model=responses.Stats)
def stats(request: Request) -> Response:
    """What the index holds."""
    return typed(responses.Stats, archive_of(request).stats())
