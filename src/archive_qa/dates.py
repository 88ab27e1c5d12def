"""Dates as archives write them, kept at their own precision."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MONTH_NAMES = tuple(calendar.month_name)  # read once: each lookup of calendar.month_name formats a date anew
MONTHS: dict[str, int] = {}
for _number, _name in enumerate(MONTH_NAMES):
    if _name:
        MONTHS[_name.lower()] = _number
        MONTHS[_name[:3].lower()] = _number
MONTHS["sept"] = 9

_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_PATTERNS = [
    re.compile(rf"^{_YEAR}-(?P<mnum>\d{{1,2}})-(?P<day>\d{{1,2}})(?:[T ].*)?$"),
    re.compile(rf"^{_YEAR}-(?P<mnum>\d{{1,2}})$"),
    re.compile(rf"^{_YEAR}$"),
    re.compile(rf"^{_YEAR}/(?P<mnum>\d{{1,2}})/(?P<day>\d{{1,2}})$"),
    re.compile(rf"^{_MONTH}\s+{_DAY},?\s+{_YEAR}$"),
    re.compile(rf"^{_DAY}\s+{_MONTH},?\s+{_YEAR}$"),
    re.compile(rf"^{_MONTH},?\s+{_YEAR}$"),
]
# Trailing clock times and notes after the date: "June 24, 1949—6 p. m.", "1951-08-28 (approx.)".
_TRAILER = re.compile(r"\s*(?:[—–]|\s-\s|\(|,\s*\d{1,2}(?::\d\d)?\s*[ap]\.?\s?m).*$")
_CIRCA = re.compile(r"^(?:c\.|ca\.|circa|about)\s*", re.IGNORECASE)


class DateParseError(ValueError):
    """A date string that names no calendar date."""


@dataclass(frozen=True)
class PartialDate:
    """A calendar date known to the day, the month or only the year."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def precision(self) -> str:
        """One of "day", "month", "year"."""
        return "day" if self.day else "month" if self.month else "year"

    @property
    def iso(self) -> str:
        """ISO 8601 at the date's own precision: 1951-08-28, 1951-08 or 1951."""
        if self.day:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.month:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}"

    @property
    def start(self) -> date:
        """First day the date may denote."""
        return date(self.year, self.month or 1, self.day or 1)

    @property
    def end(self) -> date:
        """Last day the date may denote."""
        if self.day:
            return self.start
        month = self.month or 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def display(self) -> str:
        """Human form: 28 August 1951, August 1951 or 1951."""
        if self.day:
            return f"{self.day} {MONTH_NAMES[self.month]} {self.year}"
        if self.month:
            return f"{MONTH_NAMES[self.month]} {self.year}"
        return str(self.year)

    @classmethod
    def from_iso(cls, text: str) -> PartialDate:
        """Inverse of `iso`."""
        parts = [int(p) for p in text.split("-")]
        return cls(*parts)  # type: ignore[arg-type]


def parse_date(raw: str) -> PartialDate:
    """Parse ISO, partial ISO and archival forms ("August 28, 1951", "28 Aug. 1951", "Aug. 1951").

    Raises:
        DateParseError: naming the string when no supported form matches or the date does not exist.
    """
    if not isinstance(raw, str):
        raise DateParseError(f"expected a date string, got {type(raw).__name__}")
    text = " ".join(raw.split())
    text = _CIRCA.sub("", _TRAILER.sub("", text)).strip().rstrip(".,;")
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return _build(match.groupdict(), raw)
    raise DateParseError(
        f"unrecognised date {raw!r}; use ISO (1951-08-28, 1951-08, 1951) or e.g. 'August 28, 1951'"
    )


def _build(groups: dict[str, str | None], raw: str) -> PartialDate:
    """Validate matched parts into a PartialDate."""
    year = int(groups["year"] or 0)
    month: int | None = None
    if groups.get("mnum"):
        month = int(groups["mnum"])
    elif groups.get("month"):
        month = MONTHS.get(groups["month"].lower())
        if month is None:
            raise DateParseError(f"unknown month {groups['month']!r} in date {raw!r}")
    day = int(groups["day"]) if groups.get("day") else None
    if not 1 <= year <= 9999:
        raise DateParseError(f"year out of range in date {raw!r}")
    if month is not None and not 1 <= month <= 12:
        raise DateParseError(f"month out of range in date {raw!r}")
    if day is not None:
        assert month is not None
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise DateParseError(f"day out of range in date {raw!r}")
    return PartialDate(year, month, day)
