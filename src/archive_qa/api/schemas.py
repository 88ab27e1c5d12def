"""Pydantic shapes at the HTTP boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from .. import settings
from ..dates import DateParseError, parse_date


class SearchBody(BaseModel):
    """POST /api/search: the same fields as the GET query string."""

    q: str = Field(description="the question")
    k: int = Field(10, ge=1, le=100, description="number of results")
    date_from: str | None = Field(None, description="earliest date (ISO, partial ISO or e.g. 'July 1951')")
    date_to: str | None = Field(None, description="latest date")
    person: list[str] = Field(default_factory=list, description="only documents naming these people")
    place: list[str] = Field(default_factory=list, description="only documents at or about one of these places")
    region: list[str] = Field(default_factory=list, description="only documents in one of these regions")
    mode: str = Field("hybrid", pattern="^(hybrid|dense|lexical)$")
    interpret: bool = Field(True, description="read dates and people from the question (explicit dates win)")

    @field_validator("q")
    @classmethod
    def _question(cls, value: str) -> str:
        return check_question(value)

    @field_validator("date_from", "date_to")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        return check_date(value)

    @field_validator("person", "place", "region", mode="before")
    @classmethod
    def _person(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("person", "place", "region")
    @classmethod
    def _people(cls, value: list[str]) -> list[str]:
        return check_people(value)


MAX_PEOPLE = 20  # person (or place) filters per request
MAX_NAME_CHARS = 200


def check_question(value: str) -> str:
    """A non-blank question of bounded length."""
    if not value or not value.strip():
        raise ValueError("must not be empty")
    limit = settings.get("max_question_chars")
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    check_text(value)
    return value.strip()


def check_people(names: list[str]) -> list[str]:
    """A bounded list of bounded names."""
    if len(names) > MAX_PEOPLE:
        raise ValueError(f"at most {MAX_PEOPLE} names may be given")
    for name in names:
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"a name must be at most {MAX_NAME_CHARS} characters")
        check_text(name)
    return names


def check_text(value: str) -> str:
    """Text that can be stored and returned as UTF-8 (a JSON body can smuggle in lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def check_date(value: str | None) -> str | None:
    """A date any form of `parse_date` reads, or None."""
    if value is None or not value.strip():
        return None
    try:
        parse_date(value)
    except DateParseError as error:
        raise ValueError(str(error)) from None
    return value.strip()
