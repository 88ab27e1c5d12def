"""GET /api/facets: years, regions, people and places with counts, for a question and filters or the archive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import facets, responses
from .search import check_query
from .typed import typed

router = APIRouter(prefix="/api", tags=["facets"])
DEPTH = 100  # results of the question that are counted


@router.get("/facets", response_model=responses.Facets)
def facets_get(
    request: Request,
    q: Annotated[str | None, Query(description="the question; without it the whole archive is counted")] = None,
    date_from: Annotated[str | None, Query(description="earliest date")] = None,
    date_to: Annotated[str | None, Query(description="latest date")] = None,
    person: Annotated[list[str], Query(description="only documents naming this person")] = [],  # noqa: B006
    place: Annotated[list[str], Query(description="only documents at or about this place")] = [],  # noqa: B006
    region: Annotated[list[str], Query(description="only documents in this region")] = [],  # noqa: B006
    interpret: Annotated[bool, Query(description="read dates, people and regions from the question")] = True,
) -> Response:
    """Counts over the question's first 100 results inside the filters (the page's filters, as JSON)."""
    archive = request.app.state.archive
    if q is None or not q.strip():
        return typed(responses.Facets, {"query": None, "filters": None, "interpreted": None,
                                        **facets.for_store(archive.store).to_dict()})
    q = check_query(q, date_from, date_to, person=person, place=place, region=region)
    response = archive.search(q, k=DEPTH, date_from=date_from, date_to=date_to, person=person, place=place,
                              region=region, interpret=interpret)
    store = archive.store
    found = store.documents([r["id"] for r in response["results"]])
    counted = facets.count(store, (found[r["id"]] for r in response["results"] if r["id"] in found))
    return typed(responses.Facets, {"query": q, "filters": response["filters"], "interpreted": response["interpreted"],
                                    **counted.to_dict()})
