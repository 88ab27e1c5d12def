"""Search and document endpoints: /api/search, /api/documents/{id}, /api/stats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from ..archive import Archive
from .errors import bad_parameter
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


@router.get("/search")
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
) -> dict[str, Any]:
    """Rank documents for a question."""
    q = check_query(q, date_from, date_to, person=person, place=place, region=region)
    body = SearchBody.model_construct(q=q, k=k, date_from=date_from, date_to=date_to, person=person, place=place,
                                      region=region, mode=mode, interpret=interpret)
    return run_search(archive_of(request), body)


@router.post("/search")
def search_post(request: Request, body: SearchBody) -> dict[str, Any]:
    """Rank documents for a question given as a JSON body."""
    return run_search(archive_of(request), body)


@router.get("/documents/{doc_id:path}")
def document(request: Request, doc_id: str) -> dict[str, Any]:
    """One whole document, full text included."""
    doc = archive_of(request).document(doc_id)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
    return doc.to_dict(with_text=True)


@router.get("/stats")
def stats(request: Request) -> dict[str, Any]:
    """What the index holds."""
    return archive_of(request).stats()
