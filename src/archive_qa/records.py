"""Reading collections: JSON Lines, a JSON array or CSV, validated record by record."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dates import DateParseError, PartialDate, parse_date
from .documents import KNOWN_FIELDS, Document

log = logging.getLogger(__name__)


class CollectionError(Exception):
    """A collection file that cannot be read at all (missing, empty, not the format it claims)."""


@dataclass(frozen=True)
class RecordError:
    """One bad record: where it is and what is wrong with it."""

    location: str  # "FILE:LINE"
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


def read_collection(path: str | Path, seen: dict[str, str] | None = None) -> Iterator[Document | RecordError]:
    """Yield a Document or a RecordError for every record of a file.

    Args:
        seen: id => location of ids already read in this batch, shared across files to catch duplicates.
    """
    path = Path(path)
    seen = {} if seen is None else seen
    if path.suffix.lower() == ".xml":  # a FRUS volume in TEI XML, read as a stream
        from .tei import read_tei

        yield from read_tei(path, seen)
        return
    for location, raw in _raw_records(path):
        if isinstance(raw, RecordError):
            yield raw
            continue
        result = record_to_document(raw, location)
        if isinstance(result, Document):
            if result.id in seen:
                yield RecordError(location, f"duplicate id {result.id!r} (first at {seen[result.id]})")
                continue
            seen[result.id] = location
        yield result


def record_to_document(raw: Any, location: str) -> Document | RecordError:
    """Validate one raw record into a Document; null and empty fields count as absent."""
    if not isinstance(raw, dict):
        return RecordError(location, f"expected an object with fields, got {type(raw).__name__}")
    record = {k: v for k, v in raw.items() if not _is_empty(v)}
    try:
        _check_storable(record)
        doc_id = record.get("id")
        if doc_id is None:
            raise ValueError("missing required field 'id'")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            raise ValueError(f"field 'id' must be a string, got {type(doc_id).__name__}")
        doc_id = str(doc_id).strip()
        strings = {name: _string(record, name) for name in ("summary", "text", "title", "source", "url", "date_raw")}
        if not strings["summary"] and not strings["text"]:
            raise ValueError("needs a 'summary' or a 'text'")
        date, date_raw = _date(record, "date")
        inferred, _ = _date(record, "date_inferred")
        return Document(
            id=doc_id,
            summary=strings["summary"],
            title=strings["title"],
            text=strings["text"],
            date=date,
            date_raw=strings["date_raw"] or date_raw,
            date_inferred=None if date else inferred,
            people=_names(record, "people"),
            places=_names(record, "places"),
            regions=_names(record, "regions"),
            source=strings["source"],
            url=strings["url"],
            extra={k: v for k, v in record.items() if k not in KNOWN_FIELDS},
        )
    except ValueError as error:
        return RecordError(location, str(error))


def _check_storable(record: dict[str, Any]) -> None:
    """Every field must be valid Unicode (no lone surrogates) with finite numbers, as JSON and SQLite need."""
    for key, value in record.items():
        try:
            json.dumps({key: value}, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeError:
            raise ValueError(f"field {ascii(key)} holds invalid Unicode (a lone surrogate)") from None
        except (ValueError, RecursionError) as error:
            reason = "a number that is not finite (NaN, Infinity)" if "float" in str(error) else "a number too large"
            raise ValueError(f"field {ascii(key)} holds {reason}") from None


def _is_empty(value: Any) -> bool:
    """Null, blank strings and empty lists count as absent."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def _string(record: dict[str, Any], name: str) -> str | None:
    """A text field, or None; numbers and lists are type errors."""
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")
    return value.strip()


def _names(record: dict[str, Any], name: str) -> list[str]:
    """A list of names, given as a list or a ';'-separated string."""
    value = record.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"field {name!r} must be a list of strings or a ';'-separated string")
    return [item.strip() for item in value if item.strip()]


def _date(record: dict[str, Any], name: str) -> tuple[PartialDate | None, str | None]:
    """A parsed date and its raw string; a year given as a number is accepted."""
    value = record.get(name)
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if abs(value) < 10**6 else f"{value:.3g}"
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a date string, got {type(value).__name__}")
    try:
        return parse_date(value), value
    except DateParseError as error:
        raise ValueError(f"field {name!r}: {error}") from None


def _raw_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (FILE:LINE, raw record or RecordError) in file order."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CollectionError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CollectionError(f"{path}: cannot read ({error}); collections must be UTF-8 text") from None
    if not content.strip():
        raise CollectionError(f"{path}: the file is empty; nothing to ingest")
    kind = _format(path, content)
    log.debug("reading %s as %s", path, kind)
    if kind == "csv":
        yield from _csv_records(path, content)
    elif kind == "json":
        yield from _json_array_records(path, content)
    else:
        yield from _jsonl_records(path, content)


def _format(path: Path, content: str) -> str:
    """The file's format from its suffix, else from its first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    first = content.lstrip()[:1]
    if suffix == ".json" and first == "[":
        return "json"
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl"
    return "csv"


def _jsonl_records(path: Path, content: str) -> Iterator[tuple[str, Any]]:
    """One JSON object per non-blank line."""
    # split on "\n" only: str.splitlines would also break at U+2028, U+0085 etc., which JSON strings may hold
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        location = f"{path}:{number}"
        try:
            yield location, json.loads(line)
        except json.JSONDecodeError as error:
            yield location, RecordError(location, f"not valid JSON ({error.msg} at column {error.colno})")
        except RecursionError:
            yield location, RecordError(location, "not valid JSON (nested too deeply)")


def _json_array_records(path: Path, content: str) -> Iterator[tuple[str, Any]]:
    """Elements of a top-level JSON array, each located by the line it starts on."""
    decoder = json.JSONDecoder()
    position = content.index("[") + 1
    while True:
        position = _skip(content, position, " \t\r\n")
        if position >= len(content):
            raise CollectionError(f"{path}: the JSON array is not closed")
        if content[position] == "]":
            return
        line = content.count("\n", 0, position) + 1
        try:
            value, position = decoder.raw_decode(content, position)
        except json.JSONDecodeError as error:
            raise CollectionError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
        except RecursionError:
            raise CollectionError(f"{path}:{line}: not valid JSON (nested too deeply)") from None
        yield f"{path}:{line}", value
        position = _skip(content, position, " \t\r\n")
        if position < len(content) and content[position] == ",":
            position += 1


def _skip(content: str, position: int, chars: str) -> int:
    """Advance past any of `chars`."""
    while position < len(content) and content[position] in chars:
        position += 1
    return position


def _csv_records(path: Path, content: str) -> Iterator[tuple[str, Any]]:
    """Rows of a CSV file with a header row; `people` and `places` are ';'-separated."""
    reader = csv.DictReader(io.StringIO(content, newline=""))  # line ends as csv counts them, not splitlines
    if not reader.fieldnames or "id" not in [name.strip() for name in reader.fieldnames]:
        raise CollectionError(f"{path}:1: a CSV collection needs a header row with an 'id' column")
    start = reader.line_num + 1
    csv.field_size_limit(2**31 - 1)  # full texts of archive documents exceed the 128 KiB default
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            raise CollectionError(f"{path}:{start}: not valid CSV ({error})") from None
        location = f"{path}:{start}"
        start = reader.line_num + 1
        if None in row:
            yield location, RecordError(location, "more cells than header columns")
            continue
        yield location, {key.strip(): value for key, value in row.items() if key}
