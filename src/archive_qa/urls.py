"""The one place that builds every link: document pages, their JSON twins and question permalinks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode, urlsplit

HOME = "/"
ASK_API = "/api/ask"
SEARCH_API = "/api/search"
STATIC = "/static"
FILTER_KEYS = ("date_from", "date_to", "person", "place", "region", "sort")


def document_page(doc_id: str, passage: Mapping[str, object] | None = None) -> str:
    """The HTML page of one document; with a passage, opened at that span, highlighted (`?hl=FIELD:START-END#hl`)."""
    page = f"/documents/{quote(doc_id, safe='')}"
    if passage is None:
        return page
    return f"{page}?hl={quote(highlight(passage), safe=':')}#hl"


def highlight(passage: Mapping[str, object]) -> str:
    """A span as the `hl` parameter writes it: FIELD:START-END."""
    return f"{passage['field']}:{passage['start']}-{passage['end']}"


def document_json(doc_id: str) -> str:
    """The JSON twin of a document page."""
    return f"/api/documents/{quote(doc_id, safe='')}"


def person_page(name: str) -> str:
    """The HTML page of one person, under any name a document or aliases file writes."""
    return f"/people/{quote(name, safe='')}"


def person_json(name: str) -> str:
    """The JSON twin of a person page."""
    return f"/api/people/{quote(name, safe='')}"


def citation_file(doc_id: str, style: str) -> str:
    """A document's citation in one style, as a download."""
    return f"/api/cite/{quote(doc_id, safe='')}?style={quote(style)}"


def static(name: str) -> str:
    """A file under web/static."""
    return f"{STATIC}/{quote(name)}"


def permalink(question: str | None = None, history: Iterable[str] = (), filters: Mapping[str, object] | None = None,
              interpret: bool = True) -> str:
    """`/?q=...` reproducing a question, the earlier questions of its thread and its filters.

    Example:
        >>> permalink("what did Stalin say?", filters={"date_from": "1951"})
        '/?q=what+did+Stalin+say%3F&date_from=1951'
    """
    pairs: list[tuple[str, str]] = []
    if question:
        pairs.append(("q", question))
    pairs += [("h", earlier) for earlier in history]
    for key in FILTER_KEYS:
        value = (filters or {}).get(key)
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(key, str(v)) for v in values if v not in (None, "", "relevance")]
    if not interpret:
        pairs.append(("interpret", "0"))
    return HOME + ("?" + urlencode(pairs) if pairs else "")


def card_anchor(turn: int, rank: int) -> str:
    """The HTML id of a result card: turn number and rank, both from 1."""
    return f"t{turn}-doc{rank}"


def external(url: str | None) -> str | None:
    """A document's link to its original, only when it is http(s): a `javascript:` URL never becomes a link."""
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None
