"""The document: one dated record of the archive, as stored and as returned."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .dates import PartialDate

KNOWN_FIELDS = (
    "id", "summary", "text", "title", "date", "date_raw", "date_inferred",
    "people", "places", "regions", "source", "url",
)


@dataclass
class Document:
    """A validated archive document."""

    id: str
    summary: str | None = None
    title: str | None = None
    text: str | None = None
    date: PartialDate | None = None
    date_raw: str | None = None
    date_inferred: PartialDate | None = None  # placement for undated items only; never displayed as the date
    people: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    places_from: str | None = None  # "record" (given) or "read" (from the text at ingest); None: not yet
    regions_from: str | None = None
    source: str | None = None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown input fields, returned as metadata

    @property
    def placement(self) -> PartialDate | None:
        """The date used for filtering and sorting: the real date, else the inferred one."""
        return self.date or self.date_inferred

    @property
    def date_display(self) -> str:
        """The date as a reader sees it."""
        if self.date:
            return self.date.display
        if self.date_inferred:
            return f"undated (placed {self.date_inferred.display})"
        return "undated"

    def embedding_text(self) -> str:
        """The text the dense index embeds: the summary, led by the title when the summary lacks it."""
        body = self.summary or _first_words(self.text or "", 120)
        if self.title and not body.lower().startswith(self.title.lower()[:40]):
            return f"{self.title}. {body}"
        return body

    def embedding_key(self) -> str:
        """Hash of the embedded text: unchanged documents are never re-embedded."""
        return hashlib.sha1(self.embedding_text().encode("utf-8")).hexdigest()

    def label(self) -> str:
        """A short name for the document: its title, else the start of its summary."""
        if self.title:
            return self.title
        return _first_words(self.summary or self.text or self.id, 14)

    def to_dict(self, *, with_text: bool = False) -> dict[str, Any]:
        """The JSON shape shared by the API, the CLI and the Python call."""
        data: dict[str, Any] = {
            "id": self.id,
            "date": self.date.iso if self.date else None,
            "date_display": self.date_display,
            "date_precision": self.date.precision if self.date else None,
            "date_raw": self.date_raw,
            "date_inferred": self.date_inferred.iso if self.date_inferred and not self.date else None,
            "title": self.title,
            "label": self.label(),
            "summary": self.summary,
            "people": self.people,
            "places": self.places,
            "places_from": self.places_from,
            "regions": self.regions,
            "regions_from": self.regions_from,
            "source": self.source,
            "url": self.url,
            "metadata": self.extra,
            "has_text": bool(self.text),
        }
        if with_text:
            data["text"] = self.text
        return data


def _first_words(text: str, count: int) -> str:
    """The first `count` words of a text, with an ellipsis when cut."""
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")
