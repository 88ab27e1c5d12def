"""The SQLite document table, people table and FTS5 full-text index of one generation."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..dates import PartialDate
from ..documents import Document
from ..passages import Passage
from .base import person_key

SCHEMA = """
CREATE TABLE documents (
    row INTEGER PRIMARY KEY,        -- = the document's row in vectors.npy and the FAISS index
    id TEXT NOT NULL UNIQUE,
    date TEXT, date_raw TEXT, date_inferred TEXT,
    placement_start TEXT, placement_end TEXT,   -- ISO day range of date (else date_inferred)
    title TEXT, summary TEXT, text TEXT,
    people TEXT NOT NULL, places TEXT NOT NULL,  -- JSON lists
    source TEXT, url TEXT, extra TEXT NOT NULL,  -- extra: JSON object of unknown fields
    embed_key TEXT NOT NULL,
    regions TEXT NOT NULL DEFAULT '[]',         -- JSON list
    places_from TEXT, regions_from TEXT         -- "record" or "read"
);
CREATE INDEX documents_placement ON documents(placement_start, placement_end);
CREATE TABLE people (row INTEGER NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX people_key ON people(key, row);
CREATE TABLE places (row INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX places_key ON places(kind, key, row);
CREATE VIRTUAL TABLE fts USING fts5(
    title, summary, text, people, content='', tokenize='porter unicode61 remove_diacritics 2'
);
-- the same words without the full text: BM25 whose lengths are the record's own head, so a record
-- that has only a title and a summary competes on equal terms with one that also has full text
CREATE VIRTUAL TABLE fts_head USING fts5(
    title, summary, people, content='', tokenize='porter unicode61 remove_diacritics 2'
);
-- passages of the full texts (passages.py): row = the passage's row in passages.npy
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, doc_row INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    key TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages(doc_row, row);
"""
COLUMNS = ("row, id, date, date_raw, date_inferred, title, summary, text, people, places, source, url, "
           "extra, embed_key, regions, places_from, regions_from")
OLD_COLUMNS = COLUMNS.replace("regions, places_from, regions_from", "'[]', NULL, NULL")  # before regions


def fts_phrases(phrases: Iterable[str]) -> str:
    """An FTS5 query that matches any of the phrases (each quoted, so no FTS syntax leaks through)."""
    return " OR ".join('"' + phrase.replace('"', '""') + '"' for phrase in phrases)


def fts_fields(doc: Document) -> tuple[str, str, str, str]:
    """The text of each `fts` column (title, summary, text, people); `fts_head` holds all but the text."""
    return doc.title or "", doc.summary or "", doc.text or "", " ; ".join(doc.people)


def create(path: Path, documents: Iterable[Document],
           passages: Mapping[int, Sequence[Passage]] | None = None) -> int:
    """Write a new database holding `documents` in row order, with their text's passages; returns the count.

    Passages are numbered in document row order, then in text order: the rows of passages.npy.
    """
    passages = passages or {}
    passage_row = 0
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SCHEMA)
        count = 0
        with connection:
            for row, doc in enumerate(documents):
                placement = doc.placement
                connection.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (row, doc.id, doc.date.iso if doc.date else None, doc.date_raw,
                     doc.date_inferred.iso if doc.date_inferred else None,
                     placement.start.isoformat() if placement else None,
                     placement.end.isoformat() if placement else None,
                     doc.title, doc.summary, doc.text, json.dumps(doc.people), json.dumps(doc.places),
                     doc.source, doc.url, json.dumps(doc.extra, ensure_ascii=False), doc.embedding_key(),
                     json.dumps(doc.regions), doc.places_from, doc.regions_from),
                )
                connection.executemany(
                    "INSERT INTO places VALUES (?,?,?,?)",
                    [(row, "place", name, person_key(name)) for name in doc.places]
                    + [(row, "region", name, person_key(name)) for name in doc.regions])
                connection.executemany(
                    "INSERT INTO people VALUES (?,?,?)", [(row, name, person_key(name)) for name in doc.people]
                )
                title, summary, text, people = fts_fields(doc)
                connection.execute("INSERT INTO fts(rowid, title, summary, text, people) VALUES (?,?,?,?,?)",
                                   (row, title, summary, text, people))
                connection.execute("INSERT INTO fts_head(rowid, title, summary, people) VALUES (?,?,?,?)",
                                   (row, title, summary, people))
                for passage in passages.get(row, ()):
                    connection.execute("INSERT INTO passages VALUES (?,?,?,?,?)",
                                       (passage_row, row, passage.start, passage.end, passage.key))
                    passage_row += 1
                count += 1
        connection.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        connection.execute("INSERT INTO fts_head(fts_head) VALUES ('optimize')")
        connection.commit()
        return count
    finally:
        connection.close()


class Database:
    """Read-only access to one immutable generation's database, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self.connection.execute("SELECT count(*) FROM documents").fetchone()
        columns = {name for _, name, *_ in self.connection.execute("PRAGMA table_info(documents)")}
        self.has_regions = "regions" in columns  # generations written before regions have neither column
        self._columns = COLUMNS if self.has_regions else OLD_COLUMNS

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (the file never changes once published, hence immutable=1)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self._local.connection = connection
        return connection

    def count(self) -> int:
        """Number of documents."""
        return self.connection.execute("SELECT count(*) FROM documents").fetchone()[0]

    def by_ids(self, ids: Iterable[str]) -> dict[str, Document]:
        """id => Document for the ids that exist."""
        return {doc.id: doc for _, doc in self._select("id", list(ids))}

    def by_rows(self, rows: Iterable[int]) -> dict[int, Document]:
        """row => Document."""
        return dict(self._select("row", list(rows)))

    def ranked(self, rows: list[int], chunk: int) -> RankedDocuments:
        """The documents of ranked rows, read `chunk` rows at a time as the ranking is walked."""
        return RankedDocuments(self, rows, chunk)

    def _select(self, column: str, values: list[Any]) -> Iterator[tuple[int, Document]]:
        """(row, Document) for the documents whose `column` ("id" or "row") is among `values`."""
        for chunk in _chunks(values, 500):
            marks = ",".join("?" * len(chunk))
            for record in self.connection.execute(
                    f"SELECT {self._columns} FROM documents WHERE {column} IN ({marks})", chunk):
                yield record[0], _document(record)

    def iter_documents(self) -> Iterator[tuple[int, Document, str]]:
        """(row, Document, embed_key) for every document in row order."""
        cursor = self.connection.execute(f"SELECT {self._columns} FROM documents ORDER BY row")
        for record in cursor:
            yield record[0], _document(record), record[13]

    def filter_rows(self, date_from: str | None = None, date_to: str | None = None,
                    people_keys: list[str] | None = None, places: list[str] | None = None,
                    regions: list[str] | None = None) -> list[int]:
        """Rows whose placement overlaps [date_from, date_to], naming every person given, at any place and
        in any region given."""
        if (places or regions) and not self.has_regions:
            return []  # a generation written before places and regions: the next ingest adds them
        clauses, params = filter_sql(date_from, date_to, people_keys, places, regions)
        sql = "SELECT row FROM documents d" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return [r for (r,) in self.connection.execute(sql, params)]

    def phrase_scores(self, table: str, phrase: str, weights: tuple[float, ...]) -> list[tuple[int, float]]:
        """Every (row, BM25) of the rows matching one phrase in `table` (fts or fts_head); none if FTS5 refuses it."""
        sql = (f"SELECT rowid, -bm25({table}, {','.join(str(w) for w in weights)}) FROM {table} "
               f"WHERE {table} MATCH ?")
        try:
            return list(self.connection.execute(sql, [fts_phrases([phrase])]))
        except sqlite3.OperationalError:
            return []

    def max_row(self) -> int:
        """The highest document row (-1 when empty)."""
        return self.connection.execute("SELECT coalesce(max(row), -1) FROM documents").fetchone()[0]

    @property
    def has_passages(self) -> bool:
        """Whether this generation has passages (generations written before them, or without them, have none)."""
        if not hasattr(self, "_has_passages"):
            self._has_passages = self.connection.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'passages'").fetchone() is not None and \
                self.connection.execute("SELECT 1 FROM passages LIMIT 1").fetchone() is not None
        return self._has_passages

    def passages_of(self, doc_rows: Iterable[int]) -> dict[int, list[tuple[int, int, int]]]:
        """doc row => [(passage row, start, end)] in text order; documents without text are absent."""
        rows = [int(row) for row in doc_rows]
        found: dict[int, list[tuple[int, int, int]]] = {}
        if not rows or not self.has_passages:
            return found
        for chunk in _chunks(rows, 500):  # marks, not numbers, so a question's statement is the last one's
            for doc_row, row, start, end in self.connection.execute(
                    f'SELECT doc_row, row, start, "end" FROM passages WHERE doc_row IN ({",".join("?" * len(chunk))}) '
                    "ORDER BY doc_row, row", chunk):
                found.setdefault(doc_row, []).append((row, start, end))
        return found

    def passages_by_id(self, doc_id: str) -> list[tuple[int, int]]:
        """(start, end) of each passage of one document's text, in order."""
        if not self.has_passages:
            return []
        return list(self.connection.execute(
            'SELECT p.start, p."end" FROM passages p JOIN documents d ON d.row = p.doc_row WHERE d.id = ? '
            "ORDER BY p.row", (doc_id,)))

    def passage_keys(self) -> dict[str, int]:
        """passage key => passage row, for reusing vectors of unchanged passages."""
        if not self.has_passages:
            return {}
        return {key: row for row, key in self.connection.execute("SELECT row, key FROM passages")}

    @property
    def has_head_index(self) -> bool:
        """Whether this generation has `fts_head` (generations written before it have only `fts`)."""
        if not hasattr(self, "_has_head"):
            self._has_head = self.connection.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'fts_head'").fetchone() is not None
        return self._has_head

    @property
    def with_text(self) -> frozenset[int]:
        """Rows whose record has full text (read once: a generation never changes)."""
        if not hasattr(self, "_with_text"):
            self._with_text = frozenset(row for (row,) in self.connection.execute(
                "SELECT row FROM documents WHERE length(text) > 0"))
        return self._with_text

    @property
    def all_have_text(self) -> bool:
        """Whether every record has full text."""
        return len(self.with_text) == self.count()

    def date_span(self) -> tuple[str | None, str | None]:
        """The earliest and latest placement dates."""
        return self.connection.execute(
            "SELECT min(placement_start), max(placement_end) FROM documents").fetchone()

    def document_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many documents hold each word, in one statement; raises sqlite3.OperationalError on a word FTS5 refuses."""
        if not words:
            return {}
        sql = "SELECT " + ", ".join(["(SELECT count(*) FROM fts WHERE fts MATCH ?)"] * len(words))
        counts = self.connection.execute(sql, [fts_phrases([w]) for w in words]).fetchone()
        return {word: int(count) for word, count in zip(words, counts)}

    def words_in(self, words: list[str], rows: Iterable[int]) -> dict[str, bool]:
        """Whether each word occurs in at least one of `rows`, in one statement (raises as above)."""
        if not words:
            return {}
        rows = [int(row) for row in rows]
        marks = ",".join("?" * len(rows))  # marks, not numbers: the statement is reused for the next question
        sql = "SELECT " + ", ".join(
            [f"EXISTS(SELECT 1 FROM fts WHERE fts MATCH ? AND rowid IN ({marks}))"] * len(words))
        found = self.connection.execute(sql, [value for w in words for value in (fts_phrases([w]), *rows)]).fetchone()
        return {word: bool(hit) for word, hit in zip(words, found)}

    def word_by_word(self, words: list[str], rows: list[int]) -> tuple[dict[str, int], dict[str, bool]]:
        """Frequencies and hits asked word by word; words FTS5 refuses are left out of both."""
        marks = ",".join("?" * len(rows))
        frequencies: dict[str, int] = {}
        hits: dict[str, bool] = {}
        for word in words:
            match = fts_phrases([word])
            try:
                frequency = self.connection.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
                hit = self.connection.execute(f"SELECT 1 FROM fts WHERE fts MATCH ? AND rowid IN ({marks}) LIMIT 1",
                                              (match, *rows)).fetchone()
            except sqlite3.OperationalError:
                continue
            frequencies[word], hits[word] = frequency, hit is not None
        return frequencies, hits

    def people_records(self) -> Iterator[tuple[str, str | None, str | None]]:
        """(people as JSON, title, summary) of every document."""
        return self.connection.execute("SELECT people, title, summary FROM documents")

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def filter_sql(date_from: str | None, date_to: str | None, people_keys: list[str] | None,
               places: list[str] | None = None, regions: list[str] | None = None) -> tuple[list[str], list[Any]]:
    """WHERE clauses over documents aliased `d`: a date range, every person given, any place, any region."""
    clauses: list[str] = []
    params: list[Any] = []
    if date_from:
        clauses.append("d.placement_end >= ?")
        params.append(date_from)
    if date_to:
        clauses.append("d.placement_start <= ?")
        params.append(date_to)
    for key in people_keys or []:
        clauses.append("d.row IN (SELECT row FROM people WHERE key = ? OR key LIKE ? OR key LIKE ?)")
        params += [key, f"{key} %", f"% {key}%"]
    for kind, values in (("place", places), ("region", regions)):
        keys = [person_key(value) for value in values or [] if person_key(value)]
        if keys:
            clauses.append(f"d.row IN (SELECT row FROM places WHERE kind = '{kind}' AND key IN "
                           f"({','.join('?' * len(keys))}))")
            params += keys
    return clauses, params


class RankedDocuments(Mapping[int, Document]):
    """row => Document over a ranking, read from SQLite a chunk at a time, only as far as it is walked.

    Search walks its candidates only until k distinct documents are kept, so reading all of them
    (full texts included) up front was wasted work: about 1.7 ms of a 20 ms FRUS question.
    """

    def __init__(self, database: Database, rows: list[int], chunk: int) -> None:
        self._database = database
        self._rows = rows
        self._chunk = max(1, chunk)
        self._position = {row: index for index, row in enumerate(rows)}
        self._read: dict[int, Document] = {}
        self._through = 0  # rows[:_through] have been read

    def __getitem__(self, row: int) -> Document:
        if row not in self._read and row in self._position:
            while self._through <= self._position[row]:
                batch = self._rows[self._through:self._through + self._chunk]
                self._read.update(self._database.by_rows(batch))
                self._through += len(batch)
        return self._read[row]

    def __iter__(self) -> Iterator[int]:
        return iter(self._read)

    def __len__(self) -> int:
        return len(self._read)


def _document(record: tuple[Any, ...]) -> Document:
    """A Document from a documents row."""
    (_, doc_id, date, date_raw, inferred, title, summary, text, people, places, source, url, extra, _,
     regions, places_from, regions_from) = record
    return Document(
        id=doc_id, summary=summary, title=title, text=text,
        date=PartialDate.from_iso(date) if date else None, date_raw=date_raw,
        date_inferred=PartialDate.from_iso(inferred) if inferred else None,
        people=_loaded(people), places=_loaded(places), regions=_loaded(regions),
        places_from=places_from, regions_from=regions_from, source=source, url=url, extra=_loaded(extra),
    )


def _loaded(stored: str) -> Any:
    """A stored JSON list or object; the empty ones, most places and regions lists, without the parser."""
    if stored == "[]":
        return []
    if stored == "{}":
        return {}
    return json.loads(stored)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
