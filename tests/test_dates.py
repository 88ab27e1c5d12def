"""Date strings as archives write them."""

from __future__ import annotations

import pytest

from archive_qa.dates import DateParseError, PartialDate, parse_date

CASES = [
    ("1951-08-28", "1951-08-28", "day"),
    ("1951-08", "1951-08", "month"),
    ("1951", "1951", "year"),
    ("August 28, 1951", "1951-08-28", "day"),
    ("28 August 1951", "1951-08-28", "day"),
    ("Aug. 1951", "1951-08", "month"),
    ("August 1951", "1951-08", "month"),
    ("12 May 1947", "1947-05-12", "day"),
    ("Sept. 3, 1952", "1952-09-03", "day"),
    ("3rd March 1950", "1950-03-03", "day"),
    ("June 24, 1949—6 p. m.", "1949-06-24", "day"),
    ("1951/08/28", "1951-08-28", "day"),
    ("  July 3,   1951 ", "1951-07-03", "day"),
    ("c. 1950", "1950", "year"),
    ("1951-08-28T10:00:00", "1951-08-28", "day"),
]


@pytest.mark.parametrize(("raw", "iso", "precision"), CASES)
def test_parses_archival_forms(raw: str, iso: str, precision: str) -> None:
    date = parse_date(raw)
    assert (date.iso, date.precision) == (iso, precision)


def test_year_only_date_keeps_its_precision() -> None:
    year = parse_date("1951")
    assert year.start.isoformat() == "1951-01-01" and year.end.isoformat() == "1951-12-31"
    assert year.display == "1951"
    month = parse_date("Feb 1952")
    assert month.end.isoformat() == "1952-02-29" and month.display == "February 1952"


@pytest.mark.parametrize("raw", ["", "yesterday", "1951-13-01", "February 30, 1951", "Smarch 3, 1951", "51", "1951-02-30"])
def test_rejects_what_is_no_date(raw: str) -> None:
    with pytest.raises(DateParseError):
        parse_date(raw)


def test_iso_round_trip() -> None:
    for text in ("1951-08-28", "1951-08", "1951"):
        assert PartialDate.from_iso(text).iso == text
