"""The response shapes, one pydantic model each, shared by the HTTP API, the MCP tools, the CLI's --json and Python.

The models forbid unknown keys, so a field added to a response without its model fails the tests (every test
that validates a response) instead of silently vanishing from the OpenAPI description.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    """A response object: exactly the fields declared."""

    model_config = ConfigDict(extra="forbid")


class DocumentFields(Shape):
    """The fields every returned document carries (Document.to_dict)."""

    id: str
    date: str | None = Field(description="ISO date, partial for month or year precision (1951-08, 1951)")
    date_display: str = Field(description="the date as a reader sees it, or 'undated'")
    date_precision: str | None = Field(None, description="day, month or year")
    date_raw: str | None = Field(None, description="the date as the record wrote it")
    date_inferred: str | None = Field(None, description="a date read from the text when the record has none")
    title: str | None = None
    label: str = Field(description="the title, else the summary's first words")
    summary: str | None = None
    people: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    places_from: str | None = Field(None, description="'record' (given) or 'read' (from the text at ingest)")
    regions: list[str] = Field(default_factory=list)
    regions_from: str | None = None
    source: str | None = None
    url: str | None = Field(None, description="the original's address")
    metadata: dict[str, Any] = Field(default_factory=dict, description="the record's other fields")
    has_text: bool


class Passage(Shape):
    """A span of one field of a document: `document[field][start:end] == text`."""

    field: str = Field(description="text, summary or title")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str


class Snippet(Passage):
    """The best span's neighbourhood in its field (keyword in context), the question's words marked."""

    marks: list[list[int]] = Field(description="[start, end] of each question word, relative to `text`")
    before: bool = Field(description="the field goes on before the snippet")
    after: bool = Field(description="the field goes on after the snippet")


class Result(DocumentFields):
    """One ranked document of a search."""

    score: float
    citation: str = Field(description="a short reference: label, date, source and link")
    duplicates: list[str] = Field(default_factory=list, description="ids of near-copies folded into this result")
    evidence: list[Passage] = Field(default_factory=list, description="the best 1-3 spans for the question")
    snippet: Snippet | None = None


class Filters(Shape):
    """The explicit filters a search applied."""

    date_from: str | None = None
    date_to: str | None = None
    people: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)


class Interpreted(Shape):
    """What was read from the question, and whether it shaped the results."""

    date_from: str | None = None
    date_to: str | None = None
    date_phrase: str | None = None
    loose: bool = False
    people: list[str] = Field(default_factory=list)
    author: str | None = Field(None, description="the person asked about as speaker or writer")
    applied: bool = False
    browse: bool = Field(False, description="a period or person with no topic: their most central documents")
    regions: list[str] = Field(default_factory=list)
    date_overridden_by: dict[str, str | None] | None = Field(None, description="explicit dates that won")
    follow_up: dict[str, Any] | None = Field(None, description="how a follow-up was read against the thread")


class Search(Shape):
    """GET/POST /api/search, `archive-qa search --json`, Archive.search."""

    query: str
    mode: str
    filters: Filters
    interpreted: Interpreted
    answerable: bool
    confidence: float | None = None
    coverage: float | None = None
    abstain_reason: str | None = None
    results: list[Result]


class Citation(Shape):
    """One numbered citation of an answer: a document's span, or the people index."""

    marker: int = Field(description="the [n] in the answer")
    kind: str = Field("document", description="document, or person (cited as the people index)")
    id: str = Field(description="the document's id, or the person's canonical name")
    date: str | None = None
    date_display: str | None = None
    title: str | None = None
    url: str = Field(description="this archive's page of the document opened at the span, or of the person")
    source_url: str | None = Field(None, description="the original's address")
    passage: Passage | None = Field(None, description="the span the sentence quotes")


class AskFilters(Shape):
    """The filters an answer was given."""

    date_from: str | None = None
    date_to: str | None = None
    person: list[str] = Field(default_factory=list)
    place: list[str] = Field(default_factory=list)
    region: list[str] = Field(default_factory=list)
    sort: str = "relevance"
    interpret: bool = True


class Answer(Shape):
    """POST /api/ask, `archive-qa ask --json`, Archive.ask."""

    question: str
    query: str = Field(description="the question as it was searched (a follow-up reads the thread)")
    answer: str = Field(description="sentences ending in [n] markers, or the archive's plain 'nothing on this'")
    citations: list[Citation]
    answerable: bool
    documents: list[Result]
    interpreted: Interpreted
    method: str = Field(description="extractive, generated or people index")
    fallback: str | None = Field(None, description="why a generated answer was refused, when it was")
    filters: AskFilters


class CitationFormats(Shape):
    """One document's citation in each standard format, and where to download each."""

    chicago: str
    bibtex: str
    ris: str
    csl_json: dict[str, Any]
    files: dict[str, str]


class Document(DocumentFields):
    """GET /api/documents/{id}, `archive-qa show --json`: one whole document."""

    text: str | None = Field(None, description="the full text, where the record has one")
    passages: list[Passage] = Field(default_factory=list, description="the text's passages, as embedded and searched")
    citations: CitationFormats


class Stats(Shape):
    """GET /api/stats, `archive-qa stats --json`: what the index holds."""

    documents: int
    passages: int = Field(0, description="passages of the full texts, each embedded and searchable")
    model: str
    dimension: int
    index_type: str
    generation: str
    created: str | None = None
    first_date: str | None = None
    last_date: str | None = None
    bytes_on_disk: int


class YearCount(Shape):
    """How many of a person's documents one year holds."""

    year: int
    count: int


class PersonDocument(Shape):
    """One document of a person's page."""

    id: str
    date: str | None = Field(description="ISO date, partial for month or year precision; None when undated")
    date_display: str
    label: str = Field(description="the title, else the summary's first words")
    year: int | None = Field(description="the year it is placed in (its date, else an inferred one)")
    url: str = Field(description="this archive's page of the document")


class Person(Shape):
    """GET /api/people/{name}, the MCP `people` tool: who a name refers to in this archive."""

    name: str = Field(description="the canonical name")
    aliases: list[str] = Field(description="the folded forms matched in documents and questions, sorted")
    born: int | None = None
    died: int | None = None
    documents: int = Field(description="documents by, to or naming this person")
    other_names: list[str] = Field(default_factory=list, description="other names, as an aliases file writes them "
                                                                     "(else the folded forms)")
    timeline: list[YearCount] = Field(default_factory=list, description="documents per year, earliest first")
    undated: int = Field(0, description="documents with no date, left out of the timeline")
    items: list[PersonDocument] = Field(default_factory=list, description="the documents, oldest first, "
                                                                          "undated last")
    page: str | None = Field(None, description="this archive's page of the person")


class Facet(Shape):
    """One value of a facet and how many documents carry it."""

    value: str
    count: int
    born: int | None = None
    died: int | None = None


class Facets(Shape):
    """GET /api/facets: years, regions, people and places with counts."""

    query: str | None = None
    filters: Filters | None = None
    interpreted: Interpreted | None = None
    documents: int
    first_date: str | None = None
    last_date: str | None = None
    years: list[Facet]
    regions: list[Facet]
    people: list[Facet]
    places: list[Facet]


class CitationText(Shape):
    """The MCP `cite` tool: one document's citation in one style."""

    id: str
    style: str
    citation: str


class Error(BaseModel):
    """An error: a message, or FastAPI's list of {loc, msg, type} naming the parameter."""

    detail: str | list[dict[str, Any]]


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "no such document or person"}}
BAD_BODY: dict[int | str, dict[str, Any]] = {400: {"model": Error, "description": "the body is not JSON"},
                                             413: {"model": Error, "description": "the body is over max_body_bytes"}}


class Health(Shape):
    """GET /healthz."""

    status: str
    documents: int
