"""Citations: the one-line reference every result and answer carries."""

from __future__ import annotations

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
