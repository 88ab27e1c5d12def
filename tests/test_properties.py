"""Property tests (hypothesis): the date parser, record validation and ingest hold for any input."""

from __future__ import annotations

import calendar
import json
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive_qa.dates import DateParseError, PartialDate, parse_date
from archive_qa.documents import Document
from archive_qa.records import CollectionError, RecordError, read_collection, record_to_document
from conftest import MODEL

days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
field_names = st.sampled_from(["id", "summary", "text", "title", "date", "date_raw", "date_inferred", "people",
                               "places", "source", "url", "extra"])
records = st.dictionaries(field_names | st.text(max_size=6), json_values, max_size=8)
plausible = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=12) | st.integers(), "summary": st.text(max_size=60)},
    optional={"date": st.text(max_size=20) | days.map(date.isoformat), "people": st.lists(st.text(max_size=10)),
              "title": st.text(max_size=20), "places": st.text(max_size=20), "extra": json_values})


@given(days)
def test_iso_days_round_trip(day: date) -> None:
    parsed = parse_date(day.isoformat())
    assert parsed.iso == day.isoformat() and parsed.start == parsed.end == day
    assert PartialDate.from_iso(parsed.iso) == parsed


@given(st.integers(1, 9999), st.integers(1, 12))
def test_iso_months_and_years_round_trip(year: int, month: int) -> None:
    month_date = parse_date(f"{year:04d}-{month:02d}")
    assert month_date.iso == f"{year:04d}-{month:02d}" and month_date.precision == "month"
    assert month_date.start == date(year, month, 1)
    assert month_date.end == date(year, month, calendar.monthrange(year, month)[1])
    year_date = parse_date(f"{year:04d}")
    assert (year_date.start, year_date.end) == (date(year, 1, 1), date(year, 12, 31))


@given(days, st.sampled_from(["{month} {day}, {year}", "{day} {mon}. {year}", "{month} {day} {year}"]))
def test_archival_forms_name_the_same_day(day: date, form: str) -> None:
    text = form.format(month=calendar.month_name[day.month], mon=calendar.month_abbr[day.month], day=day.day,
                       year=f"{day.year:04d}")
    assert parse_date(text).iso == day.isoformat()


@given(st.text(max_size=60) | st.from_regex(r"\d{4}-\d{1,2}-\d{1,2}", fullmatch=True)
       | st.from_regex(r"[A-Za-z]{3,9}\.? \d{1,2},? \d{4}", fullmatch=True))
def test_any_string_parses_or_raises_date_parse_error(text: str) -> None:
    try:
        parsed = parse_date(text)
    except DateParseError as error:
        assert str(error)
        return
    assert parsed.start <= parsed.end
    assert parse_date(parsed.iso) == parsed


@given(st.one_of(json_values, records, plausible))
def test_record_validation_never_raises(raw: object) -> None:
    result = record_to_document(raw, "batch.jsonl:7")
    assert isinstance(result, (Document, RecordError))
    if isinstance(result, RecordError):
        assert result.location == "batch.jsonl:7" and result.reason
        assert str(result).startswith("batch.jsonl:7: ")
        return
    assert result.id and result.embedding_text().strip()
    # what is stored can always be returned by the API (strict JSON, UTF-8)
    json.dumps(result.to_dict(with_text=True), ensure_ascii=False, allow_nan=False).encode("utf-8")
    if result.date:
        assert result.date.start <= result.date.end


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
       st.sampled_from(["x.jsonl", "x.json", "x.csv", "x.txt"]))
def test_reading_any_file_yields_documents_or_located_errors(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            items = list(read_collection(path))
        except CollectionError as error:
            assert str(error).startswith(str(path))
            return
    lines = content.count(b"\n") + content.count(b"\r") + 1  # CSV also ends lines at a lone CR
    for item in items:
        assert isinstance(item, (Document, RecordError))
        if isinstance(item, RecordError):
            file, _, line = item.location.rpartition(":")
            assert file == str(path) and 1 <= int(line) <= lines


def test_unicode_line_separators_inside_values_do_not_split_records(tmp_path: Path) -> None:
    """U+2028, U+2029 and U+0085 are legal inside JSON strings and CSV cells; only "\\n" ends a line."""
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text("".join(json.dumps({"id": f"d{i}", "summary": f"one{sep}two"}, ensure_ascii=False) + "\n"
                             for i, sep in enumerate("\u2028\u2029\x85")) + '{"id": "bad"}\n', encoding="utf-8")
    items = list(read_collection(jsonl))
    assert [d.summary for d in items[:3]] == ["one\u2028two", "one\u2029two", "one\x85two"]
    assert str(items[3]) == f"{jsonl}:4: needs a 'summary' or a 'text'"
    table = tmp_path / "x.csv"
    table.write_text('id,summary\r\na,"one\u2028two"\r\nb,"three\nfour"\r\nc\r\n', encoding="utf-8")
    items = list(read_collection(table))
    assert [d.summary for d in items[:2]] == ["one\u2028two", "three\nfour"]
    assert str(items[2]) == f"{table}:5: needs a 'summary' or a 'text'"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(plausible, records), min_size=1, max_size=6))
def test_ingest_holds_exactly_the_valid_records(embedder, seed_index: Path, batch: list[dict]) -> None:
    import shutil

    from archive_qa.indexing import IngestRefused, ingest
    from archive_qa.store import Store

    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index"
        shutil.copytree(seed_index, index)
        source = Path(folder) / "batch.jsonl"
        # ASCII-escaped, so lone surrogates and NaN reach the reader as a hostile file would carry them
        source.write_text("".join(json.dumps(r) + "\n" for r in batch), encoding="utf-8")
        expected = [item for item in read_collection(source)]
        valid = {d.id for d in expected if isinstance(d, Document)}
        try:
            report = ingest(index, [source], MODEL, progress=False)
        except (IngestRefused, CollectionError):  # no valid record at all: nothing is written
            assert not valid
            assert Store.open(index).count() == 10
            return
        assert [str(e) for e in report.errors] == [str(e) for e in expected if isinstance(e, RecordError)]
        for error in report.errors:
            assert error.location.startswith(f"{source}:")
        store = Store.open(index)
        assert set(store.documents(valid)) == valid
        assert store.count() == report.total == len(valid | {f"seed-{i:02d}" for i in range(1, 11)})


questions = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=200).filter(str.strip)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions, st.sampled_from(["hybrid", "dense", "lexical"]), st.booleans(),
       st.none() | st.text(max_size=12), st.lists(st.text(max_size=12), max_size=3))
def test_any_question_is_answered_or_refused_with_value_error(seed_index: Path, embedder, query: str, mode: str,
                                                              interpret: bool, date_from: str | None,
                                                              people: list[str]) -> None:
    """FTS syntax, quotes, NUL, emoji or nonsense dates: results and an answer, or a ValueError."""
    from archive_qa import open_index

    archive = open_index(seed_index)
    try:
        response = archive.search(query, k=5, date_from=date_from, person=people, mode=mode, interpret=interpret)
    except ValueError as error:  # DateParseError is one; each names the field
        assert str(error)
        return
    assert len(response["results"]) <= 5
    json.dumps(response, ensure_ascii=False, allow_nan=False).encode("utf-8")
    for result in response["results"]:
        assert result["id"].startswith("seed-") and result["citation"]
    answered = archive.ask(query, [], k=5, date_from=date_from, person=people, interpret=interpret)
    json.dumps(answered, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert {c["id"] for c in answered["citations"]} <= {d["id"] for d in answered["documents"]}


# --- evidence's quick paths give what the plain loops gave -------------------------------------------------------

texts = st.lists(st.sampled_from([*"ab Z9 .\t\n\x1c'-", "x" * 12, " " * 30, "Ü", "²", "\u00a0"]),
                 max_size=300).map("".join)


def _window_by_full_scan(source: str, anchor: int, low: int, high: int) -> tuple[int, int]:
    """The snippet window as it was first written: every token of the window listed, then indexed."""
    from archive_qa.evidence import _TOKEN, SNIPPET_WORDS

    words = [m.span() for m in _TOKEN.finditer(source, max(0, low), high)]
    at = next((i for i, (a, b) in enumerate(words) if b > anchor), 0)
    first, last = max(0, at - SNIPPET_WORDS), min(len(words), at + SNIPPET_WORDS + 1)
    return (words[first][0], words[last - 1][1]) if words else (0, 0)


@given(texts, st.data())
def test_snippet_window_is_the_full_scans(source: str, data: st.DataObject) -> None:
    from archive_qa.evidence import _around

    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, len(source)))
    anchor = data.draw(st.integers(start, end))
    reach = data.draw(st.sampled_from([0, 5, 560]))
    assert _around(source, anchor, start - reach, end + reach) == _window_by_full_scan(
        source, anchor, start - reach, end + reach)


word_soup = st.lists(st.sampled_from(["Tests", "tested", "TESTING", "attest", "test_x", "tést", "\u212aing", "kings",
                                      "1951", "x1951", "İstanbul", "istanbul", "some", "somes", "the", "un", "United",
                                      "a", "think", "Thinking", "thought", "thoughts", " ", "\n", ".", "-", "_", "Ü",
                                      "\u00a0"]), max_size=60).map("".join)


@settings(max_examples=300)
@given(word_soup | st.text(max_size=200), word_soup | st.text(max_size=40))
@example("I think so", "Thinking")  # "think" is a stop word, though the stem of "thinking"
@example("some somes", "somes")
@example("xtests untested", "tests")  # the stem inside words, not at their start
@example("\u212aings", "kings")  # the Kelvin sign's lower case is k
@example("İstanbul", "istanbul")  # İ lowers to two characters
def test_question_stems_are_the_stems_shared_with_the_question(piece: str, question: str) -> None:
    from archive_qa.evidence import question_stems
    from archive_qa.words import stems

    assert question_stems(piece, stems(question)) == stems(piece) & stems(question)


def _sentences_as_first_written(text: str) -> list[tuple[int, int]]:
    """`passages.sentence_spans` as it was first written, the oracle for the faster one."""
    import re

    from archive_qa.passages import _BOUNDARY, ABBREVIATIONS

    spans, begin = [], 0
    for match in _BOUNDARY.finditer(text):
        stop = match.end() if match.group().strip() else match.start()
        last = text[begin:stop].rsplit(None, 1)[-1].lower() if text[begin:stop].strip() else ""
        if match.group().strip() and (last in ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+", last)):
            continue
        spans.append((begin, stop))
        begin = match.end()
    spans.append((begin, len(text)))
    trimmed = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        trimmed.append((a, b))
    return [(a, b) for a, b in trimmed if b > a]


sentence_soup = st.lists(st.sampled_from(["Mr.", "U.S.", "J.", "F.", "a.", "Dulles", "said", "so", ".", "!", "?", "\"",
                                          "”", "’", ")", "(", "“", " ", "  ", "\n", "\n\n", "\n \n", "\t", "\x1c", "\u00a0",
                                          "\u2003", "1951", "War", "é"]), max_size=80).map("".join)


@settings(max_examples=400)
@given(sentence_soup | texts | st.text(max_size=120))
@example("He met Mr. Dulles. Then J. F. Dulles left!  \n\n New para.")
def test_sentence_spans_are_the_first_written_rule(text: str) -> None:
    from archive_qa.passages import sentence_spans

    assert sentence_spans(text) == _sentences_as_first_written(text)


@settings(max_examples=300)
@given(texts | st.text(max_size=80))
@example("a1 b2 c3 d4 e5 words")  # letters with digits: not words
@example("x- y' z. -- ok go")  # letters with punctuation: words
@example("é1 ü2 ö3 ä4 Jalta words")  # the same beyond ASCII
@example("Hammarskjöld don’t — see 1951")
def test_prose_word_count_is_the_per_character_rule(text: str) -> None:
    from archive_qa.evidence import MIN_WORDS, _NOT_PROSE, _prose

    words = text.split()
    wordy = sum(any(c.isalpha() for c in w) and not any(c.isdigit() for c in w) for w in words)
    expected = len(words) >= MIN_WORDS and not _NOT_PROSE.search(text) and wordy >= 0.6 * len(words)
    assert _prose(text) == expected


@settings(max_examples=300)
@given(word_soup | st.text(max_size=200), word_soup | st.text(max_size=40), st.data())
@example("Tests, tested; TESTING attest", "testing", None)
@example("\u212aings and kings", "kings", None)  # the Kelvin sign lowers to k, one character for one
@example("İstanbul tests", "tests", None)  # İ lowers to two characters: every word stemmed instead
def test_marked_words_are_the_words_whose_stem_is_wanted(source: str, question: str, data: st.DataObject | None
                                                          ) -> None:
    from archive_qa.evidence import _WORD, marked_words
    from archive_qa.words import stems, word_stem

    low = data.draw(st.integers(0, len(source))) if data else 0
    high = data.draw(st.integers(low, len(source))) if data else len(source)
    wanted = stems(question)
    expected = [m.span() for m in _WORD.finditer(source, low, high) if word_stem(m.group().lower()) in wanted]
    assert marked_words(source, low, high, wanted) == expected


period_soup = st.lists(st.sampled_from(["July", "jul.", "1951", "2019", "1399", "19", "51", "between", "and", "to",
                                        "-", "–", "early", "spring", "of", "the", "s", "'s", "after", "by", " ", ",",
                                        "\u0661\u0669\u0665\u0661", "1\u0669\u0665\u0661", "14\u0665\u0661"]),
                       max_size=20).map("".join)


@given(period_soup | st.text(max_size=60))
def test_a_question_without_a_year_matches_no_period_pattern(question: str) -> None:
    from archive_qa.ranking import question as reading

    if not reading._ANY_YEAR.search(question):
        assert not any(pattern.search(question) for pattern in (
            reading._DAYS_OF_MONTH, reading._MONTHS_OF_YEAR, reading._RANGE, reading._OPEN, reading._SINGLE))


region_soup = st.lists(st.sampled_from(["East Asia", "east", "asia", "EAST ASIA", "Far", "the Middle East", "Middle",
                                        "Europe", "Eastern", "Western", "ſ", "\u212a", " ", "-", "Southeast",
                                        "South-East"]), max_size=12).map("".join)


@given(region_soup | st.text(max_size=60))
def test_a_question_that_the_union_of_region_names_misses_names_no_region(question: str) -> None:
    from archive_qa.places import _ANY_REGION_NAME, _REGION_NAMES

    if not _ANY_REGION_NAME.search(question):
        assert not any(pattern.search(question) for _, pattern in _REGION_NAMES)


cable_soup = st.lists(st.sampled_from(["Deptel", "deptel", "URTEL", "Mytel", "embtel", "Reftel", "tel", "TEL", "Tél",
                                       "Moscow, July 17, 1951—6 p. m.", "Top Secret", "SECRET", "priority", "Niact",
                                       "eyes only", " ", "\n", ",", ".", "-", "—", "x", "\u212a", "İ", "ſ", "1951",
                                       "July", "17"]), max_size=25).map("".join)


@given(cable_soup | st.text(max_size=120))
@example("See Deptel 123.")
@example("Secret")
def test_not_prose_is_the_patterns_search(text: str) -> None:
    from archive_qa.evidence import _NOT_PROSE, not_prose

    assert not_prose(text) == (_NOT_PROSE.search(text) is not None)
