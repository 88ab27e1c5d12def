"""Citations: the one-line reference every result carries, and "cite this" in Chicago style and BibTeX."""

from __future__ import annotations

import calendar
import re

from .documents import Document


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


def chicago(doc: Document) -> str:
    """A Chicago-style bibliography entry for an archival document.

    Example: “Stalin agrees with Mao …,” 28 August 1951. Wilson Center Digital Archive (sample listing).
    """
    parts = [f"“{cite_label(doc)},” {doc.date.display if doc.date else 'undated'}."]
    if doc.source:
        parts.append(f"{doc.source.rstrip('.')}.")
    parts.append(f"{doc.url}." if doc.url else f"Archive id {doc.id}.")
    return " ".join(parts)


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
