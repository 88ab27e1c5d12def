"""Reading a question: its period ("in July 1951", "early 1952", "after 1955") and the people it names."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from ..dates import MONTHS
from .people import PeopleIndex, question_people

_MONTH_NAMES = sorted(MONTHS, key=len, reverse=True)
MONTH = r"(?:" + "|".join(_MONTH_NAMES) + r")\.?"
YEAR = r"(?:1[4-9]\d\d|20\d\d)"
DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
# Numbers that count things, not years: "1500 troops".
_COUNTED = re.compile(r"\s+(?:troops|men|soldiers|people|persons|tons|miles|kilometers|km|dollars|planes|aircraft|"
                      r"ships|prisoners|refugees|casualties|copies|feet|meters|yards|pounds|rubles|yen)\b", re.I)

# A single point in time at its own precision: day, month, season, early/mid/late qualifiers, year, decade.
_POINT = (
    rf"(?:(?P<{{p}}q>early|mid|middle|late)[\s-]+(?:in\s+)?)?"
    rf"(?:the\s+)?"
    rf"(?:(?P<{{p}}season>spring|summer|autumn|fall|winter)\s+(?:of\s+)?"
    rf"|(?P<{{p}}month>{MONTH})\s+(?:(?P<{{p}}day>{DAY}),?\s+)?(?:of\s+)?"
    rf"|(?P<{{p}}day2>{DAY})\s+(?P<{{p}}month2>{MONTH}),?\s+)?"
    rf"(?P<{{p}}year>{YEAR})(?P<{{p}}decade>'?s)?"
)


def _point(prefix: str) -> str:
    """The point pattern with its group names prefixed (two points can share one pattern)."""
    return _POINT.replace("{p}", prefix)


_RANGE = re.compile(
    rf"\b(?:between|from)\s+{_point('a')}\s+(?:and|to|until|through|till)\s+{_point('b')}\b"
    rf"|\b{_point('c')}\s*(?:-|–|—|to|through|until)\s*{_point('d')}\b"
    rf"|\b{_point('e')}\s+and\s+{_point('f')}\b",
    re.IGNORECASE,
)
_MONTHS_OF_YEAR = re.compile(
    rf"\b(?:between\s+|from\s+)?(?P<m1>{MONTH})\s+(?:and|to|through|until|-|–|—)\s+(?P<m2>{MONTH})\s+(?:of\s+)?"
    rf"(?P<y>{YEAR})\b", re.IGNORECASE)
_DAYS_OF_MONTH = re.compile(  # "between 23 and 31 October 1956", "22-27 October 1962", "October 22-27, 1962"
    rf"\b(?:between\s+|from\s+)?(?:(?P<d1>{DAY})\s*(?:and|to|through|until|-|–|—)\s*(?P<d2>{DAY})\s+(?:of\s+)?"
    rf"(?P<m>{MONTH})|(?P<m2>{MONTH})\s+(?P<d3>{DAY})\s*(?:and|to|through|until|-|–|—)\s*(?P<d4>{DAY})),?\s+"
    rf"(?P<y>{YEAR})\b", re.IGNORECASE)
_OPEN = re.compile(rf"\b(?P<rel>after|since|from|before|until|till|by|prior\s+to)\s+{_point('p')}\b", re.IGNORECASE)
_SINGLE = re.compile(rf"\b{_point('s')}\b", re.IGNORECASE)
_ANY_YEAR = re.compile(YEAR)  # every pattern above holds a year: without one, none of them can match


@dataclass(frozen=True)
class Period:
    """A day range read from the question; `loose` for wordings like "early 1952" or "the spring of 1958"."""

    start: date | None
    end: date | None
    loose: bool
    phrase: str  # the words it was read from

    def padded(self) -> Period:
        """A loose period widened by a third of its length (at least a week) on each side."""
        if not self.loose or self.start is None or self.end is None:
            return self
        pad = timedelta(days=max(7, ((self.end - self.start).days + 1) // 3))
        return Period(self.start - pad, self.end + pad, self.loose, self.phrase)


def _span(groups: dict[str, str | None], prefix: str) -> tuple[date, date, bool] | None:
    """The first and last day a matched point denotes, and whether the wording is loose."""
    get = lambda name: groups.get(prefix + name)  # noqa: E731
    year_text = get("year")
    if not year_text:
        return None
    year = int(year_text)
    qualifier = (get("q") or "").lower()
    season = (get("season") or "").lower()
    month_name = get("month") or get("month2")
    day_text = get("day") or get("day2")
    loose = bool(qualifier or season)
    if get("decade"):
        start, end = date(year - year % 10, 1, 1), date(year - year % 10 + 9, 12, 31)
        loose = True
    elif season:
        first, last = SEASONS[season]
        start = date(year, first, 1)
        end_year = year + 1 if last < first else year
        end = date(end_year, last, calendar.monthrange(end_year, last)[1])
    elif month_name:
        month = MONTHS[month_name.rstrip(".").lower()]
        last_day = calendar.monthrange(year, month)[1]
        if day_text:
            day = min(int(re.sub(r"\D", "", day_text)), last_day)
            start = end = date(year, month, day)
        else:
            start, end = date(year, month, 1), date(year, month, last_day)
    else:
        start, end = date(year, 1, 1), date(year, 12, 31)
    if qualifier and start != end:
        length = (end - start).days + 1
        third = length // 3
        if qualifier == "early":
            end = start + timedelta(days=third - 1)
        elif qualifier == "late":
            start = end - timedelta(days=third - 1)
        else:
            start, end = start + timedelta(days=third), end - timedelta(days=third)
    return start, end, loose


def read_period(question: str) -> Period | None:
    """The period a question asks about, or None when it names none.

    Example:
        >>> read_period("What did Mao write to Stalin in July 1951?")
        Period(start=datetime.date(1951, 7, 1), end=datetime.date(1951, 7, 31), loose=False, phrase='July 1951')
    """
    if not _ANY_YEAR.search(question):
        return None  # most questions: one scan instead of five patterns' (0.05 ms)
    match = _DAYS_OF_MONTH.search(question)
    if match:
        year = int(match.group("y"))
        month = MONTHS[(match.group("m") or match.group("m2")).rstrip(".").lower()]
        last_day = calendar.monthrange(year, month)[1]
        first, last = (min(int(re.sub(r"\D", "", match.group(a) or match.group(b))), last_day)
                       for a, b in (("d1", "d3"), ("d2", "d4")))
        if first <= last:
            return Period(date(year, month, first), date(year, month, last), False, match.group(0).strip())
    match = _MONTHS_OF_YEAR.search(question)
    if match:
        year = int(match.group("y"))
        first, last = (MONTHS[match.group(n).rstrip(".").lower()] for n in ("m1", "m2"))
        if first <= last:
            return Period(date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1]), False,
                          match.group(0))
    for match in _RANGE.finditer(question):
        groups = match.groupdict()
        for first, second in (("a", "b"), ("c", "d"), ("e", "f")):
            a, b = _span(groups, first), _span(groups, second)
            if a and b and a[0] <= b[1]:
                return Period(a[0], b[1], a[2] or b[2], match.group(0))
    for match in _OPEN.finditer(question):
        span = _span(match.groupdict(), "p")
        if span is None:
            continue
        relation = " ".join(match.group("rel").lower().split())
        start, end, loose = span
        if relation == "after":
            return Period(end + timedelta(days=1), None, loose, match.group(0))
        if relation in ("since", "from"):
            return Period(start, None, loose, match.group(0))
        if relation in ("before", "prior to"):
            return Period(None, start - timedelta(days=1), loose, match.group(0))
        return Period(None, end, loose, match.group(0))  # until, till, by
    for match in _SINGLE.finditer(question):
        if not any(match.group(f"s{name}") for name in ("q", "season", "month", "month2", "decade")):
            before = question[match.start() - 1] if match.start() else ""
            if _COUNTED.match(question, match.end()) or (before and before in "$£#"):
                continue
        span = _span(match.groupdict(), "s")
        if span:
            return Period(span[0], span[1], span[2], match.group(0))
    return None


def strip_period(question: str, period: Period | None) -> str:
    """The question without the words its period was read from (so they do not count as topic words)."""
    if period is None:
        return question
    return " ".join(question.replace(period.phrase, " ").split())


@dataclass(frozen=True)
class Reading:
    """How a question was read: its period, the people it names and whose words it asks for."""

    period: Period | None
    people: tuple[str, ...]
    author: str | None
    topic: str  # the question without its period phrase
    mentions: tuple[tuple[str, int, int], ...] = ()  # (person, start, end) of each name in the question

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Where the question names people."""
        return [(start, end) for _, start, end in self.mentions]

    @property
    def first_spans(self) -> list[tuple[int, int]]:
        """Where each person of `people` is first named, in the order of `people`."""
        first: dict[str, tuple[int, int]] = {}
        for person, start, end in self.mentions:
            first.setdefault(person, (start, end))
        return [first[person] for person in self.people]

    def describe(self, applied: bool) -> dict[str, object]:
        """The response's `interpreted` object (dates as ISO days)."""
        period = self.period.padded() if self.period else None
        return {
            "date_from": period.start.isoformat() if period and period.start else None,
            "date_to": period.end.isoformat() if period and period.end else None,
            "date_phrase": self.period.phrase if self.period else None,
            "loose": bool(self.period and self.period.loose),
            "people": list(self.people),
            "author": self.author,
            "applied": applied,
        }


def read_question(question: str, people: PeopleIndex | None = None) -> Reading:
    """Read the period, the people and the asked-about author from a question."""
    period = read_period(question)
    named, author, mentions = (), None, ()
    if people is not None:
        found, author, spans = question_people(question, people)
        named, mentions = tuple(found), tuple(spans)
    return Reading(period, named, author, strip_period(question, period), mentions)
