"""The HTML pages: the chat page at `/`, `/documents/{id}` and `/people/{name}`, from the templates in web/."""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import facets, urls
from ..citations import bibtex, chicago
from ..dates import PartialDate
from ..ranking.people import index_for
from .schemas import check_date, check_question

log = logging.getLogger(__name__)

router = APIRouter(tags=["pages"], include_in_schema=False)

MAX_PAGE_TURNS = 5  # turns of a thread a page reproduces (each is searched again)


def web_dir() -> Path:
    """The web/ folder (templates and static files): beside src/ in a checkout, inside the package from a wheel."""
    here = Path(__file__).resolve()
    candidates = [here.parents[3] / "web", here.parents[1] / "web"]
    for candidate in candidates:
        if (candidate / "templates").is_dir() and (candidate / "static").is_dir():
            return candidate
    raise RuntimeError("web/ (templates and static files) not found; looked in "
                       + ", ".join(str(c) for c in candidates) + "; reinstall archive_qa (its wheel carries them)")


def templates() -> Jinja2Templates:
    """The page templates, every value HTML-escaped unless a template says otherwise (none does)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(web_dir() / "templates"), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(urls=urls, person_href=person_href)
    return Jinja2Templates(env=env)


def person_href(request: Request, name: str) -> str | None:
    """The page of the person a name refers to, or None when no person of this archive has the name."""
    canonical = index_for(request.app.state.archive.store).canonical(name.strip()) if name.strip() else None
    return urls.person_page(canonical) if canonical else None


def year_bars(timeline: list[dict[str, int]]) -> list[dict[str, Any]]:
    """A person's documents per year, each with its bar's width (0–100 % of the busiest year)."""
    busiest = max((entry["count"] for entry in timeline), default=1)
    return [{**entry, "width": round(100 * entry["count"] / busiest, 1)} for entry in timeline]


def install(app: FastAPI) -> None:
    """Mount the pages and the static files on an app."""
    app.state.templates = templates()
    facets.warm(app.state.archive.store)
    app.mount(urls.STATIC, StaticFiles(directory=web_dir() / "static"), name="static")
    app.include_router(router)


def answer_parts(turn: int, response: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer as text pieces and marker links to the cited document cards of its turn."""
    ranks = {doc["id"]: rank for rank, doc in enumerate(response["documents"], start=1)}
    cited = {c["marker"]: c for c in response["citations"]}
    parts: list[dict[str, Any]] = []
    for piece in re.split(r"(\[\d+\])", response["answer"]):
        number = int(piece[1:-1]) if re.fullmatch(r"\[\d+\]", piece) else None
        if number is not None and number in cited:
            entry = cited[number]
            rank = ranks.get(entry["id"])
            href = f"#{urls.card_anchor(turn, rank)}" if rank else entry["url"]
            parts.append({"text": piece, "href": href, "citation": entry})
        elif piece:
            parts.append({"text": piece})
    return parts


def timeline(turn: int, response: dict[str, Any]) -> list[dict[str, Any]]:
    """The cited documents in date order, each placed along the span they cover (0–100 %)."""
    ranks = {doc["id"]: rank for rank, doc in enumerate(response["documents"], start=1)}
    points = []
    for entry in response["citations"]:
        if entry.get("date"):
            day = PartialDate.from_iso(entry["date"]).start
            points.append({**entry, "day": day, "anchor": urls.card_anchor(turn, ranks.get(entry["id"], 0))})
    points.sort(key=lambda p: p["day"])
    if points:
        first, last = points[0]["day"], points[-1]["day"]
        span = max((last - first).days, 1)
        for point in points:
            point["position"] = round(100 * (point["day"] - first).days / span, 1) if last > first else 50.0
    return points


def interpretation(response: dict[str, Any]) -> list[str]:
    """What the search read from the question, as short phrases ("by Joseph Stalin", "1951")."""
    seen = response.get("interpreted") or {}
    phrases = []
    if seen.get("author"):
        phrases.append(f"by {seen['author']}")
    others = [p for p in seen.get("people") or [] if p != seen.get("author")]
    if others:
        phrases.append("about " + ", ".join(others))
    if seen.get("regions"):
        phrases.append("in " + ", ".join(seen["regions"]))
    if (seen.get("date_from") or seen.get("date_to")) and not seen.get("date_overridden_by"):
        phrases.append(f"dated {seen.get('date_from') or '…'} to {seen.get('date_to') or '…'}"
                       + (f" (“{seen['date_phrase']}”)" if seen.get("date_phrase") else ""))
    return phrases


def _form(q: str | None, h: list[str], date_from: str | None, date_to: str | None, person: list[str],
          place: list[str], region: list[str], sort: str, interpret: str) -> tuple[dict[str, Any], list[str]]:
    """The page's query string, checked; errors name the field."""
    errors = []
    values: dict[str, Any] = {"q": (q or "").strip(), "h": [x.strip() for x in h if x.strip()][-MAX_PAGE_TURNS:],
                              "date_from": (date_from or "").strip(), "date_to": (date_to or "").strip(),
                              "person": [p for p in person if p.strip()], "place": [p for p in place if p.strip()],
                              "region": [r for r in region if r.strip()],
                              "sort": sort if sort in ("relevance", "date") else "relevance",
                              "interpret": interpret not in ("0", "false", "no", "off")}
    for name in ("date_from", "date_to"):
        try:
            check_date(values[name] or None)
        except ValueError as error:
            errors.append(f"{name.replace('_', ' ')}: {error}")
            values[name] = ""
    if values["q"]:
        try:
            check_question(values["q"])
        except ValueError as error:
            errors.append(f"question: {error}")
            values["q"] = ""
    return values, errors


@router.get("/", response_class=HTMLResponse)
def chat(
    request: Request,
    q: Annotated[str | None, Query(description="the question")] = None,
    h: Annotated[list[str], Query(description="earlier questions of the thread")] = [],  # noqa: B006
    date_from: str | None = None,
    date_to: str | None = None,
    person: Annotated[list[str], Query()] = [],  # noqa: B006
    place: Annotated[list[str], Query()] = [],  # noqa: B006
    region: Annotated[list[str], Query()] = [],  # noqa: B006
    sort: str = "relevance",
    interpret: str = "1",
) -> HTMLResponse:
    """The chat page; with `q` it answers the question (and re-asks the earlier ones of the thread in `h`)."""
    archive = request.app.state.archive
    form, errors = _form(q, h, date_from, date_to, person, place, region, sort, interpret)
    filters = {k: form[k] for k in ("date_from", "date_to", "person", "place", "region", "sort")}
    turns: list[dict[str, Any]] = []
    if form["q"]:
        history: list[dict[str, Any]] = []
        questions = form["h"] + [form["q"]]
        for number, question in enumerate(questions, start=1):
            last = number == len(questions)
            options = {**{k: v or None for k, v in filters.items() if k != "sort"}, "sort": filters["sort"],
                       "interpret": form["interpret"]} if last else {}
            try:
                response = archive.ask(question, history, **options)
            except ValueError as error:
                errors.append(str(error))
                break
            turns.append({"number": number, "response": response, "parts": answer_parts(number, response),
                          "timeline": timeline(number, response), "reading": interpretation(response),
                          "permalink": urls.permalink(question, questions[:number - 1], filters if last else None,
                                                      form["interpret"] if last else True),
                          "literal": urls.permalink(question, questions[:number - 1],
                                                    filters if last else None, False),
                          "with_reading": urls.permalink(question, questions[:number - 1],
                                                         filters if last else None, True)})
            history.append({"question": question, "query": response["query"],
                            "citations": [{"id": c["id"], "date": c["date"]} for c in response["citations"]]})
    context = {"form": form, "errors": errors, "turns": turns, "facets": facets.for_store(archive.store),
               "thread": [t["response"]["question"] for t in turns], "title": form["q"] or None}
    return request.app.state.templates.TemplateResponse(request, "index.html", context,
                                                        status_code=400 if errors else 200)


@router.get("/documents/{doc_id:path}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str,
                  hl: Annotated[str | None, Query(description="a span to highlight: FIELD:START-END")] = None
                  ) -> HTMLResponse:
    """One whole document: date, title, summary, text, people, source, "cite this", and its JSON twin.

    `hl=FIELD:START-END` (a citation's passage) wraps exactly that span in `<mark id="hl">`; the link's `#hl`
    scrolls to it without JavaScript. A span that does not fit the document is ignored.
    """
    doc = request.app.state.archive.document(doc_id)
    pages = request.app.state.templates
    if doc is None:
        return pages.TemplateResponse(request, "404.html", {"doc_id": doc_id, "title": "Not found"},
                                      status_code=404)
    data = doc.to_dict(with_text=True)
    span = highlighted(doc, hl)
    paragraphs = marked_paragraphs(doc.text or "", span if span and span[0] == "text" else None)
    summary = marked_paragraphs(doc.summary or "", span if span and span[0] == "summary" else None, split=False)
    heading = marked_paragraphs(doc.title or "", span if span and span[0] == "title" else None, split=False)
    extra = {k: v for k, v in doc.extra.items() if v not in (None, "", [], {})}
    context = {"doc": data, "paragraphs": paragraphs, "summary": summary[0] if summary else [],
               "heading": heading[0] if heading and doc.title else None, "extra": extra, "chicago": chicago(doc),
               "bibtex": bibtex(doc), "title": doc.label(), "today": date.today().isoformat(), "highlight": span}
    return pages.TemplateResponse(request, "document.html", context)


def highlighted(doc: Any, hl: str | None) -> tuple[str, int, int] | None:
    """The (field, start, end) an `hl` parameter names, when it lies inside that field of the document."""
    match = re.fullmatch(r"(text|summary|title):(\d{1,9})-(\d{1,9})", hl or "")
    if not match:
        return None
    field, start, end = match.group(1), int(match.group(2)), int(match.group(3))
    value = getattr(doc, field) or ""
    return (field, start, end) if 0 <= start < end <= len(value) else None


def marked_paragraphs(text: str, span: tuple[str, int, int] | None, split: bool = True) -> list[list[dict[str, Any]]]:
    """A field's paragraphs as segments {text, mark, first}: the span's characters marked, the first one anchored."""
    bounds = _paragraph_bounds(text) if split else ([(0, len(text))] if text.strip() else [])
    first = True
    paragraphs = []
    for a, b in bounds:
        segments = []
        cuts = sorted({a, b, *(x for x in (span[1], span[2]) if span and a < x < b)}) if span else [a, b]
        for x, y in zip(cuts, cuts[1:]):
            mark = bool(span and span[1] <= x and y <= span[2])
            segments.append({"text": text[x:y], "mark": mark, "first": mark and first})
            first = first and not mark
        paragraphs.append(segments)
    return paragraphs


def _paragraph_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated paragraph, whitespace trimmed."""
    bounds, begin = [], 0
    for gap in [*re.finditer(r"\n\s*\n", text), None]:
        end = gap.start() if gap else len(text)
        a, b = begin, end
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            bounds.append((a, b))
        begin = gap.end() if gap else len(text)
    return bounds


@router.get("/people/{name:path}", response_class=HTMLResponse)
def person_page(request: Request, name: str) -> HTMLResponse:
    """One person: their names, life dates, documents per year and documents, and the page's JSON twin."""
    found = request.app.state.archive.person(name)
    pages = request.app.state.templates
    if found is None:
        log.info("no person known as %r", name)
        return pages.TemplateResponse(request, "person.html", {"person": None, "name": name, "title": "Not found"},
                                      status_code=404)
    context = {"person": found, "name": name, "years": year_bars(found["timeline"]), "title": found["name"]}
    return pages.TemplateResponse(request, "person.html", context)
