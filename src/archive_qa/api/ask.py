"""POST /api/ask: a cited answer composed from the documents, follow-ups read against the thread."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from .. import responses
from .errors import bad_parameter
from .typed import typed
from .schemas import check_date, check_people, check_question

router = APIRouter(prefix="/api", tags=["answers"])

MAX_HISTORY = 20  # earlier turns accepted; only the last few are read


class CitedDocument(BaseModel):
    """What an earlier turn cited: enough to read "later than that"."""

    id: str = Field(max_length=500)
    date: str | None = Field(None, max_length=40)


class Turn(BaseModel):
    """One earlier turn of the thread, as the page sends it back."""

    question: str = Field(max_length=2000)
    query: str | None = Field(None, max_length=4000, description="the question as it was searched")
    citations: list[CitedDocument] = Field(default_factory=list, max_length=50)


class AskFilters(BaseModel):
    """The page's filters."""

    date_from: str | None = Field(None, description="earliest date (ISO, partial ISO or e.g. 'July 1951')")
    date_to: str | None = Field(None, description="latest date")
    person: list[str] = Field(default_factory=list, description="documents by, to or about these people")
    place: list[str] = Field(default_factory=list, description="documents at or about any of these places")
    region: list[str] = Field(default_factory=list, description="documents in any of these regions")
    sort: str = Field("relevance", pattern="^(relevance|date)$")
    interpret: bool = Field(True, description="read dates and people from the question")
    k: int = Field(10, ge=1, le=50, description="documents returned")

    @field_validator("date_from", "date_to")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        return check_date(value)

    @field_validator("person", "place", "region", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("person", "place", "region")
    @classmethod
    def _bounded(cls, value: list[str]) -> list[str]:
        return check_people(value)


class AskBody(BaseModel):
    """POST /api/ask."""

    question: str = Field(description="the question")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY, description="earlier turns")
    filters: AskFilters = Field(default_factory=AskFilters)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return check_question(value)


def run_ask(request: Request, body: AskBody) -> dict[str, Any]:
    """One answered turn, shared by the API and the page."""
    filters = body.filters
    try:
        return request.app.state.archive.ask(
            body.question, [turn.model_dump() for turn in body.history], k=filters.k, date_from=filters.date_from,
            date_to=filters.date_to, person=filters.person, place=filters.place, region=filters.region,
            sort=filters.sort,
            interpret=filters.interpret)
    except ValueError as error:  # messages start with the parameter's name, e.g. "query: must not be empty"
        raise bad_parameter("body", "question", str(error)) from None


@router.post("/ask", response_model=responses.Answer, responses=responses.BAD_BODY)
def ask(request: Request, body: AskBody) -> Response:
    """Answer a question from the archive: `answer` with [n] markers, `citations`, `documents`, `interpreted`."""
    return typed(responses.Answer, run_ask(request, body))
