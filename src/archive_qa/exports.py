"""A list of documents exported for a reference manager or a spreadsheet: CSV, RIS, BibTeX, CSL-JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from .citations import bibtex, csl_item, ris
from .documents import Document

# format => (media type, file extension)
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
    "csl-json": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
}
CSV_COLUMNS = ("rank", "id", "date", "title", "summary", "people", "places", "regions", "source", "url")


def export(documents: Sequence[Document], fmt: str) -> str:
    """The documents, best first, in one of FORMATS; ValueError names the format for any other."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for rank, doc in enumerate(documents, start=1):
            writer.writerow([rank, doc.id, doc.date.iso if doc.date else "", doc.title or "", doc.summary or "",
                             "; ".join(doc.people), "; ".join(doc.places), "; ".join(doc.regions),
                             doc.source or "", doc.url or ""])
        return out.getvalue()
    if fmt == "ris":
        return ris(list(documents))
    if fmt == "bibtex":
        return "\n\n".join(bibtex(doc) for doc in documents) + "\n"
    if fmt == "csl-json":
        return json.dumps([csl_item(doc) for doc in documents], ensure_ascii=False, indent=1)
    raise ValueError(f"format: must be one of {', '.join(FORMATS)}")
