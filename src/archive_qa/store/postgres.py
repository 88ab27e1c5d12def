"""The PostgreSQL backend: documents, people, places, full text and pgvector vectors of each generation in
tables of their own, published by moving one pointer row; reads from replicas, falling back to the primary.

BM25 is computed here from term statistics the backend keeps (per-field term counts, document lengths and
document frequencies, all from `analysis.analyze`, FTS5's tokenizer), with FTS5's formula, so rankings
match the embedded store's; Postgres' ts_rank is not BM25. A phrase's per-field count comes from the kept
term positions; how many documents hold a phrase, from a tsvector with a GIN index.

Passages (passages.py) live in the generation's `_passages` table, numbered as the embedded store numbers
them (document row order, then text order): offsets into the document's text, the key their vector is
reused by, their text and their vector as `halfvec`, the float16 the embedded store
keeps in passages.npy, so both stores hand out the same numbers.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..documents import Document
from .analysis import analyze
from .base import Filters, GenerationCache, Ranking, person_key
from .database import RankedDocuments, _document, fts_fields
from .layout import IndexError_, IndexMismatchError, IndexMissingError, IndexWriteError

log = logging.getLogger(__name__)
T = TypeVar("T")

POOL_SIZE = 8  # connections per server and process: API workers x POOL_SIZE must stay under max_connections
# Below: exact k-NN (a sequential scan); from here: an HNSW index (m 16, ef_construction 64). Measured by
# `bench/vectors_1m.py --parts threshold` (README, "Exact scan or HNSW"): exact p50 1.1 ms at 5k vectors,
# 3.0 ms at 10k, 12 ms at 20k, 50 ms at 100k; HNSW at ef_search 100 0.95 ms at 10k, recall@10 0.999.
EXACT_LIMIT = 10_000
K1, B = 1.2, 0.75  # FTS5's bm25() constants
KEEP = 2  # published generations kept (the one before serves readers that opened it, and lagging replicas)
RETRY_REPLICA_S = 5.0  # after a replica fails, reads go to the primary this long before the replica is tried again
BEHIND_NOTE_S = 60.0  # a replica behind the published generation is logged at most this often
FIELDS = ("title", "summary", "text", "people")
FIELD_SPAN = 10_000_000  # a term's kept position: field number x FIELD_SPAN + its place in the field
HEAD = ("title", "summary", "people")
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS archive_qa_generations (
    id bigserial PRIMARY KEY, model text NOT NULL, dimension int NOT NULL, count int NOT NULL,
    index_type text NOT NULL, created timestamptz NOT NULL DEFAULT now(), published timestamptz,
    avg_length float8 NOT NULL DEFAULT 0, avg_head_length float8 NOT NULL DEFAULT 0, with_text int NOT NULL DEFAULT 0
);
DO $$ BEGIN  -- a schema made before passages were kept (no ALTER otherwise: its lock would stall replicas)
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'archive_qa_generations' AND column_name = 'passages') THEN
        ALTER TABLE archive_qa_generations ADD COLUMN passages int NOT NULL DEFAULT 0;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS archive_qa_current (
    one int PRIMARY KEY DEFAULT 1 CHECK (one = 1), generation bigint NOT NULL REFERENCES archive_qa_generations(id)
);
"""
TABLES = """
CREATE TABLE {g}_documents (
    row int PRIMARY KEY, id text NOT NULL UNIQUE, date text, date_raw text, date_inferred text,
    placement_start text, placement_end text, title text, summary text, text text,
    people text NOT NULL, places text NOT NULL, source text, url text, extra text NOT NULL, embed_key text NOT NULL,
    regions text NOT NULL, places_from text, regions_from text,
    length int NOT NULL, head_length int NOT NULL, tsv tsvector NOT NULL, embedding vector({dimension}) NOT NULL
);
-- the vector in line with its row, not TOASTed beside a long text: an exact scan then reads no TOAST pages
-- (FRUS, 60 questions: 2.4 ms p50 against 23.9; bench/stores.py)
ALTER TABLE {g}_documents ALTER COLUMN embedding SET STORAGE PLAIN;
CREATE TABLE {g}_people (row int NOT NULL, name text NOT NULL, key text NOT NULL);
CREATE TABLE {g}_places (row int NOT NULL, kind text NOT NULL, name text NOT NULL, key text NOT NULL);
CREATE TABLE {g}_postings (term text NOT NULL, row int NOT NULL, title int NOT NULL, summary int NOT NULL,
                           text int NOT NULL, people int NOT NULL, positions int[] NOT NULL);
CREATE TABLE {g}_terms (term text PRIMARY KEY, df int NOT NULL, df_head int NOT NULL);
CREATE TABLE {g}_passages (
    row int PRIMARY KEY, doc_row int NOT NULL, field text NOT NULL, start int NOT NULL, "end" int NOT NULL,
    key text NOT NULL, text text NOT NULL, embedding halfvec({dimension}) NOT NULL
);
"""
INDEXES = """
CREATE INDEX ON {g}_documents (placement_start, placement_end);
CREATE INDEX ON {g}_documents USING gin (tsv);
CREATE INDEX ON {g}_people (key, row);
CREATE INDEX ON {g}_places (kind, key, row);
CREATE INDEX ON {g}_postings (term, row) INCLUDE (title, summary, text, people);
CREATE INDEX ON {g}_passages (doc_row, row);
"""
TABLE_NAMES = ("documents", "people", "places", "postings", "terms", "passages")
COLUMNS = ("row, id, date, date_raw, date_inferred, title, summary, text, people, places, source, url, extra, "
           "embed_key, regions, places_from, regions_from")


def _table(generation: int) -> str:
    """The prefix of a generation's tables."""
    return f"archive_qa_g{int(generation)}"


def _configure(connection: psycopg.Connection) -> None:
    """A new pooled connection: autocommit reads (vectors travel as text and real[], so no type registration
    is needed, and a connection made before pgvector was installed works once it is)."""
    connection.autocommit = True


_POOLS: dict[str, ConnectionPool] = {}  # one pool per server URL for the whole process, closed at exit
_POOLS_LOCK = threading.Lock()


def pool(url: str, size: int = POOL_SIZE) -> ConnectionPool:
    """The process's connection pool to one server; opening does not wait for it (a replica may be down)."""
    with _POOLS_LOCK:
        found = _POOLS.get(url)
        if found is None:
            found = _POOLS[url] = ConnectionPool(
                url, min_size=1, max_size=size, configure=_configure, check=ConnectionPool.check_connection,
                open=True, timeout=3.0, reconnect_timeout=30.0,
                name=f"archive_qa {_safe(url)}", kwargs={"connect_timeout": 3})
        return found


def discard_pool(url: str, failed: ConnectionPool) -> None:
    """Forget a pool whose server failed, so the next read makes a fresh one; psycopg's pool, once its
    connects fail, waits out a growing backoff before it tries again, even after the server is back."""
    with _POOLS_LOCK:
        if _POOLS.get(url) is not failed:  # another thread discarded it already
            return
        del _POOLS[url]
    threading.Thread(target=failed.close, name="archive_qa pool close", daemon=True).start()  # may wait on a connect


def close_pool(url: str) -> None:
    """Close the process's pool to one server, if it has one (a database that is done with)."""
    with _POOLS_LOCK:
        found = _POOLS.pop(url, None)
    if found is not None:
        found.close()


@atexit.register
def close_pools() -> None:
    """Close every pool (at exit, and in tests that restart servers)."""
    with _POOLS_LOCK:
        for found in _POOLS.values():
            found.close()
        _POOLS.clear()


class Reader:
    """Connections for reads: the replicas in turn, the primary when none answers."""

    def __init__(self, primary: str, replicas: Sequence[str] = ()) -> None:
        self.urls = list(replicas) + [primary]
        self._down_until: dict[str, float] = {}
        self._behind_noted: dict[str, float] = {}

    @property
    def primary(self) -> str:
        """The primary's URL (read last)."""
        return self.urls[-1]

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` on a connection to the first server that answers; a server that fails is skipped a while,
        but is still tried, last, when every other one fails too (the primary gone while a replica recovers).

        A replica that lacks a table `work` reads has not replayed the publish that made it: that read goes to
        the next server, and the replica is asked again on the next read.
        """
        last: Exception | None = None
        now = time.monotonic()
        up = [u for u in self.urls if self._down_until.get(u, 0.0) <= now]
        for url in up + [u for u in self.urls if u not in up]:
            servers = pool(url)
            try:
                try:
                    with servers.connection() as connection:
                        return work(connection)
                except psycopg.OperationalError as error:  # a connection that broke since its check: once more
                    if isinstance(error, PoolTimeout):
                        raise
                    with servers.connection() as connection:
                        return work(connection)
            except psycopg.errors.UndefinedTable:
                if url == self.primary:
                    raise
                if time.monotonic() >= self._behind_noted.get(url, 0.0):  # once a while, not once a read
                    self._behind_noted[url] = time.monotonic() + BEHIND_NOTE_S
                    log.info("replica %s has not replayed the generation's tables yet; reading from the next "
                             "server (`archive-qa check` shows which generation each replica serves)", _safe(url))
            except psycopg.OperationalError as error:  # PoolTimeout and PoolClosed are OperationalErrors too
                last = error
                if url != self.primary:
                    log.warning("replica %s failed (%s); reading from the next server", _safe(url), error)
                self._down_until[url] = time.monotonic() + RETRY_REPLICA_S
                discard_pool(url, servers)
        raise IndexError_(f"no PostgreSQL server answers ({last}); start them (`make postgres`) or check "
                          f"--store / --read-replica") from last


def current(connection: psycopg.Connection) -> dict[str, Any] | None:
    """The published generation's row, or None before the first publish (or before the schema exists)."""
    keys = ("id", "model", "dimension", "count", "index_type", "created", "avg_length", "avg_head_length",
            "with_text", "passages")
    sql = (f"SELECT {', '.join('g.' + key for key in keys)} FROM archive_qa_current c "
           "JOIN archive_qa_generations g ON g.id = c.generation")
    try:
        row = connection.execute(sql).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    except psycopg.errors.UndefinedColumn:  # written before passages were kept: a generation without any
        row = connection.execute(sql.replace("g.passages", "0")).fetchone()
    if row is None:
        return None
    return dict(zip(keys, row))


class PostgresStore:
    """One published generation in PostgreSQL (a `StoreReader`)."""

    def __init__(self, reader: Reader, info: dict[str, Any], url: str) -> None:
        self.reader = reader
        self.info = info
        self.url = url
        self.t = _table(info["id"])
        self._cache = GenerationCache()
        self._lock = threading.Lock()
        self._filtered: OrderedDict[Filters, np.ndarray] = OrderedDict()
        self._terms: OrderedDict[tuple[str, bool], int] = OrderedDict()
        self._with_text: frozenset[int] | None = None

    @classmethod
    def open(cls, url: str, model: str | None = None, replicas: Sequence[str] = (), reader: Reader | None = None) -> PostgresStore:
        """The published generation, read from the replicas when given; refuses one built with another model."""
        reader = reader or Reader(url, replicas)
        info = reader.run(current)
        if info is None and len(reader.urls) > 1:  # the replicas may not have replayed the first publish yet
            info = Reader(reader.primary).run(current)
        if info is None:
            raise IndexMissingError(f"no collection in {_safe(url)}; build one with `archive-qa ingest FILE... "
                                    f"--store {_safe(url)}`")
        if model is not None and info["model"] != model:
            raise IndexMismatchError(f"{_safe(url)} was built with model {info['model']!r}, not {model!r}; use "
                                     f"--model {info['model']} or ingest again with --model {model}")
        return cls(reader, info, url)

    def published_id(self) -> str | None:
        """The generation the servers publish now (cheap; for noticing a new publish)."""
        info = self.reader.run(current)
        return None if info is None else str(info["id"])

    def reopen(self) -> PostgresStore:
        """The store of the generation published now, on the same connections."""
        return PostgresStore.open(self.url, None, reader=self.reader)

    @property
    def generation_id(self) -> str:
        """The generation's number."""
        return str(self.info["id"])

    @property
    def model(self) -> str:
        """The model the vectors were made with."""
        return self.info["model"]

    @property
    def has_regions(self) -> bool:
        """Always: this backend was written after places and regions."""
        return True

    @property
    def has_head_index(self) -> bool:
        """Always: head statistics are kept."""
        return True

    @property
    def quick_lexical(self) -> bool:
        """Never: BM25 is a round trip to the server, time the question encoder runs in."""
        return False

    @property
    def in_process(self) -> bool:
        """Never: every search waits on the servers."""
        return False

    def count(self) -> int:
        """Number of documents."""
        return int(self.info["count"])

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one read statement."""
        return self.reader.run(lambda connection: connection.execute(sql, params).fetchall())

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """id => Document for the ids that exist (none holds a NUL, which PostgreSQL text cannot)."""
        wanted = [i for i in ids if "\x00" not in i]
        rows = self._rows(f"SELECT {COLUMNS} FROM {self.t}_documents WHERE id = ANY(%s)", (wanted,))
        return {record[1]: _document(record) for record in rows}

    def document(self, doc_id: str) -> Document | None:
        """One document, or None."""
        return self.documents([doc_id]).get(doc_id)

    def by_rows(self, rows: Iterable[int]) -> dict[int, Document]:
        """row => Document."""
        records = self._rows(f"SELECT {COLUMNS} FROM {self.t}_documents WHERE row = ANY(%s)",
                             ([int(r) for r in rows],))
        return {record[0]: _document(record) for record in records}

    def ranked(self, rows: list[int], chunk: int) -> Mapping[int, Document]:
        """The documents of ranked rows, read a chunk at a time as the ranking is walked."""
        return RankedDocuments(self, rows, chunk)  # type: ignore[arg-type]  # duck-typed: by_rows

    def iter_documents(self) -> Iterator[tuple[int, Document, str]]:
        """(row, Document, embed_key) for every document in row order."""
        for record in self._rows(f"SELECT {COLUMNS} FROM {self.t}_documents ORDER BY row"):
            yield record[0], _document(record), record[13]

    def _where(self, filters: Filters | None) -> tuple[str, list[Any]]:
        """SQL conditions over documents aliased d for the filters, and their parameters."""
        if not filters:
            return "TRUE", []
        clauses, params = [], []
        if filters.date_from:
            clauses.append("d.placement_end >= %s")
            params.append(filters.date_from)
        if filters.date_to:
            clauses.append("d.placement_start <= %s")
            params.append(filters.date_to)
        for key in filters.people_keys:
            clauses.append(f"d.row IN (SELECT row FROM {self.t}_people WHERE key = %s OR key LIKE %s OR key LIKE %s)")
            params += [key, f"{key} %", f"% {key}%"]
        for kind, keys in (("place", filters.place_keys), ("region", filters.region_keys)):
            if keys:
                clauses.append(f"d.row IN (SELECT row FROM {self.t}_places WHERE kind = '{kind}' AND key = ANY(%s))")
                params.append(list(keys))
        return " AND ".join(clauses) or "TRUE", params

    def filter_rows(self, filters: Filters) -> np.ndarray:
        """The rows inside the filters (remembered per generation)."""
        with self._lock:
            rows = self._filtered.get(filters)
        if rows is None:
            where, params = self._where(filters)
            rows = np.array([r for (r,) in self._rows(f"SELECT d.row FROM {self.t}_documents d WHERE {where}", params)],
                            dtype=np.int64)
            rows.setflags(write=False)
            with self._lock:
                self._filtered[filters] = rows
                while len(self._filtered) > 64:
                    self._filtered.popitem(last=False)
        return rows

    def dense(self, query: np.ndarray, k: int, filters: Filters | None = None) -> Ranking:
        """The k nearest rows by inner product (cosine: vectors are unit length), filtered inside the query."""
        if k <= 0:
            return []
        where, params = self._where(filters)
        vector = _vector_text(query)

        def work(connection: psycopg.Connection) -> list[tuple[int, float]]:
            with connection.transaction():
                if self.info["index_type"] == "hnsw":
                    connection.execute(f"SET LOCAL hnsw.ef_search = {max(100, int(k))}")
                    connection.execute("SET LOCAL hnsw.iterative_scan = strict_order")
                return connection.execute(
                    f"SELECT d.row, -(d.embedding <#> %s::vector) FROM {self.t}_documents d WHERE {where} "
                    f"ORDER BY d.embedding <#> %s::vector LIMIT %s", [vector, *params, vector, int(k)]).fetchall()

        return [(int(r), float(s)) for r, s in self.reader.run(work)]

    def _phrases(self, phrases: Sequence[str]) -> list[list[str]]:
        """Each phrase's terms (a phrase with none matches nothing and is dropped)."""
        return [terms for terms in (analyze(p) for p in phrases) if terms]

    def _frequency(self, terms: list[str], head: bool) -> int:
        """How many documents hold a phrase (in the head only, with `head`), remembered per generation."""
        key = (" ".join(terms), head)
        with self._lock:
            if key in self._terms:
                self._terms.move_to_end(key)
                return self._terms[key]
        if len(terms) == 1:
            found = self._rows(f"SELECT {'df_head' if head else 'df'} FROM {self.t}_terms WHERE term = %s", (terms[0],))
            value = int(found[0][0]) if found else 0
        else:
            query = " <-> ".join(_lexeme(t) for t in terms) if not head else \
                " <-> ".join(_lexeme(t) + ":ABC" for t in terms)
            value = int(self._rows(f"SELECT count(*) FROM {self.t}_documents WHERE tsv @@ %s::tsquery", (query,))[0][0])
        with self._lock:
            self._terms[key] = value
            while len(self._terms) > 16384:
                self._terms.popitem(last=False)
        return value

    def _counts(self, phrases: list[list[str]], filters: Filters | None, rows: Sequence[int] | None = None
                ) -> dict[int, np.ndarray]:
        """row => per phrase and field how often the phrase occurs (a phrase's words adjacent, in order, in one field)."""
        words = sorted({t for terms in phrases for t in terms})
        where, params = self._where(filters)
        extra = " AND p.row = ANY(%s)" if rows is not None else ""
        sql = (f"SELECT p.term, p.row, p.title, p.summary, p.text, p.people FROM {self.t}_postings p "
               f"JOIN {self.t}_documents d ON d.row = p.row WHERE p.term = ANY(%s) AND {where}{extra}")
        found = self._rows(sql, [words, *params] + ([[int(r) for r in rows]] if rows is not None else []))
        per_word: dict[str, dict[int, np.ndarray]] = {}
        for term, row, *tfs in found:
            per_word.setdefault(term, {})[row] = np.array(tfs, dtype=np.float64)
        counts: dict[int, np.ndarray] = {}
        for i, terms in enumerate(phrases):
            present = set.intersection(*(set(per_word.get(t, {})) for t in terms))
            exact = self._phrase_counts(terms, sorted(present)) if len(terms) > 1 and present else {}
            for row in present:
                tf = exact[row] if len(terms) > 1 else per_word[terms[0]][row]
                if tf.any():
                    counts.setdefault(row, np.zeros((len(phrases), len(FIELDS))))[i] = tf
        return counts

    def _phrase_counts(self, terms: list[str], rows: list[int]) -> dict[int, np.ndarray]:
        """row => per field how often the words occur adjacent and in order, from the kept positions."""
        found = self._rows(f"SELECT term, row, positions FROM {self.t}_postings WHERE term = ANY(%s) AND row = ANY(%s)",
                           (sorted(set(terms)), rows))
        positions: dict[tuple[str, int], set[int]] = {(term, row): set(where) for term, row, where in found}
        counts = {}
        for row in rows:
            sets = [positions.get((term, row), set()) for term in terms]
            tf = np.zeros(len(FIELDS))
            for start in sets[0]:
                if all(start + n in sets[n] for n in range(1, len(terms))):
                    tf[start // FIELD_SPAN] += 1
            counts[row] = tf
        return counts

    def lexical(self, phrases: Sequence[str], k: int, weights: Sequence[float], filters: Filters | None = None,
                head: bool = False) -> Ranking:
        """FTS5's BM25 of documents matching any phrase, inside the filters, from the kept term statistics."""
        parsed = self._phrases(phrases)
        if not parsed or k <= 0:
            return []
        counts = self._counts(parsed, filters)
        if not counts:
            return []
        fields = [FIELDS.index(f) for f in (HEAD if head else FIELDS)]
        weight = np.array(weights, dtype=np.float64)
        total = self.count()
        idf = np.array([max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)
                        for n in (self._frequency(terms, head) for terms in parsed)])
        rows = sorted(counts)
        lengths = dict(self._rows(f"SELECT row, {'head_length' if head else 'length'} FROM {self.t}_documents "
                                  "WHERE row = ANY(%s)", (rows,)))
        average = self.info["avg_head_length" if head else "avg_length"] or 1.0
        scored = []
        for row in rows:
            w = counts[row][:, fields] @ weight  # per phrase: weighted count over the fields
            if not w.any():
                continue  # matched only in the text, for a head search
            norm = K1 * (1 - B + B * lengths[row] / average)
            scored.append((row, float(np.sum(idf * (w * (K1 + 1)) / (w + norm)))))
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored[:k]

    @property
    def with_text(self) -> frozenset[int]:
        """Rows whose record has full text."""
        if self._with_text is None:
            self._with_text = frozenset(r for (r,) in self._rows(
                f"SELECT row FROM {self.t}_documents WHERE length(text) > 0"))
        return self._with_text

    @property
    def all_have_text(self) -> bool:
        """Whether every record has full text."""
        return int(self.info["with_text"]) == self.count()

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of `rows`, in that order, as float32."""
        wanted = [int(r) for r in rows]
        found = dict(self._rows(f"SELECT row, embedding::real[] FROM {self.t}_documents WHERE row = ANY(%s)",
                                (sorted(set(wanted)),)))
        out = np.empty((len(wanted), int(self.info["dimension"])), dtype=np.float32)
        for i, row in enumerate(wanted):
            out[i] = found[row]
        return out

    @property
    def passage_count(self) -> int:
        """Number of passages (0 for a generation written without them, or before they were kept)."""
        return int(self.info.get("passages") or 0)

    def passages_of(self, doc_rows: Iterable[int]) -> dict[int, list[tuple[int, int, int]]]:
        """doc row => [(passage row, start, end)] in text order; documents without text are absent."""
        rows = sorted({int(row) for row in doc_rows})
        found: dict[int, list[tuple[int, int, int]]] = {}
        if not rows or not self.passage_count:
            return found
        for doc_row, row, start, end in self._rows(
                f'SELECT doc_row, row, start, "end" FROM {self.t}_passages WHERE doc_row = ANY(%s) '
                "ORDER BY doc_row, row", (rows,)):
            found.setdefault(doc_row, []).append((row, start, end))
        return found

    def passage_keys(self) -> dict[str, int]:
        """passage key => passage row (the last of a repeated text, as in the embedded store)."""
        if not self.passage_count:
            return {}
        return {key: row for row, key in self._rows(f"SELECT row, key FROM {self.t}_passages ORDER BY row")}

    def passages(self, doc: Document) -> list[dict[str, Any]]:
        """A document's passages as spans {field: "text", start, end, text}."""
        if not self.passage_count:
            return []
        spans = self._rows(f'SELECT p.field, p.start, p."end" FROM {self.t}_passages p JOIN {self.t}_documents d '
                           "ON d.row = p.doc_row WHERE d.id = %s ORDER BY p.row", (doc.id,))
        return [{"field": field, "start": start, "end": end, "text": (getattr(doc, field) or "")[start:end]}
                for field, start, end in spans]

    def passage_vectors(self, rows: Iterable[int] | None = None) -> np.ndarray:
        """Passage vectors (float16, unit length) of the given passage rows in that order, or all in row order."""
        dimension = int(self.info["dimension"])
        if rows is not None:
            wanted = [int(r) for r in rows]
            if not wanted:
                return np.zeros((0, dimension), dtype=np.float16)
            found = dict(self._rows(f"SELECT row, embedding::real[] FROM {self.t}_passages WHERE row = ANY(%s)",
                                    (sorted(set(wanted)),))) if self.passage_count else {}
            missing = [r for r in wanted if r not in found]
            if missing:
                raise IndexError(f"no passage rows {missing[:5]} in generation {self.generation_id}")
            return np.array([found[r] for r in wanted], dtype=np.float32).astype(np.float16)
        if not self.passage_count:
            return np.zeros((0, dimension), dtype=np.float16)
        found = self._rows(f"SELECT embedding::real[] FROM {self.t}_passages ORDER BY row")  # an ingest's reuse
        return np.array([v for (v,) in found], dtype=np.float32).astype(np.float16).reshape(-1, dimension)

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many documents hold each word (as FTS5 would match it); words with no terms are left out."""
        result = {}
        for word in dict.fromkeys(words):
            terms = analyze(word)
            if terms:
                result[word] = self._frequency(terms, False)
        return result

    def words_in(self, words: Sequence[str], rows: Sequence[int]) -> dict[str, bool]:
        """Whether each word occurs in at least one of `rows`."""
        unique = [w for w in dict.fromkeys(words) if analyze(w)]
        if not unique:
            return {}
        counts = self._counts([analyze(w) for w in unique], None, rows)
        hit = np.zeros(len(unique), dtype=bool)
        for matrix in counts.values():
            hit |= matrix.sum(axis=1) > 0
        return {word: bool(h) for word, h in zip(unique, hit)}

    def people_records(self) -> Iterable[tuple[Any, str | None, str | None]]:
        """(people as JSON, title, summary) of every document."""
        return self._rows(f"SELECT people, title, summary FROM {self.t}_documents")

    def people_directories(self) -> list[Any]:
        """None beyond the project's data/: a server holds no people files."""
        return []

    def date_span(self) -> tuple[str | None, str | None]:
        """The earliest and latest placement dates."""
        return tuple(self._rows(f"SELECT min(placement_start), max(placement_end) FROM {self.t}_documents")[0])

    def stats(self) -> dict[str, Any]:
        """Counts, dates and the model."""
        first, last = self.date_span()
        size = self._rows(f"SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                          f"WHERE c.relname LIKE %s AND c.relkind = 'r'", (f"{self.t}\\_%",))[0][0]
        return {"documents": self.count(), "passages": self.passage_count, "model": self.model,
                "dimension": self.info["dimension"],
                "index_type": self.info["index_type"], "generation": self.generation_id,
                "created": self.info["created"].isoformat(timespec="seconds"), "first_date": first, "last_date": last,
                "bytes_on_disk": int(size)}

    def cached(self, name: str, build: Callable[[], T]) -> T:
        """A value computed once for this generation."""
        return self._cache.get(name, build)

    def close(self) -> None:
        """Nothing per thread: connections go back to the pool after each statement."""


class PostgresWriter:
    """Builds a generation's tables on the primary and publishes it by moving the pointer row, in one commit."""

    LOCK = 7_245_311  # advisory lock id: one writer at a time

    def __init__(self, url: str) -> None:
        self.url = url

    @contextmanager
    def lock(self, wait: bool = True) -> Iterator[None]:
        """Hold the single-writer advisory lock for the duration (another ingest waits, or fails)."""
        with self._connect() as connection:
            if wait:
                connection.execute("SELECT pg_advisory_lock(%s)", (self.LOCK,))
            elif not connection.execute("SELECT pg_try_advisory_lock(%s)", (self.LOCK,)).fetchone()[0]:
                raise IndexError_(f"another ingest is writing {_safe(self.url)}; wait for it to finish")
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (self.LOCK,))

    def _connect(self) -> psycopg.Connection:
        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as error:
            raise IndexWriteError(f"cannot reach the primary {_safe(self.url)} ({error}); start it (`make postgres`) "
                                  "or check --store") from None
        return connection

    def publish(self, documents: list[Document], vectors: np.ndarray, model: str, index_kind: str = "auto",
                passages: dict[int, list[Any]] | None = None, passage_vectors: np.ndarray | None = None) -> str:
        """Write documents and their row-aligned vectors, and their passages with theirs, as a new generation
        in one transaction, and publish it; returns its id.

        passages: document row => its Passages; passage_vectors: one row per passage, in document row order,
        then text order (the passage rows).
        """
        if len(documents) != len(vectors):
            raise ValueError(f"{len(documents)} documents but {len(vectors)} vectors")
        passages = passages or {}
        passage_total = sum(len(found) for found in passages.values())
        if passage_total != (0 if passage_vectors is None else len(passage_vectors)):
            raise ValueError(f"{passage_total} passages but "
                             f"{0 if passage_vectors is None else len(passage_vectors)} vectors")
        kind = ("flat" if len(documents) < EXACT_LIMIT else "hnsw") if index_kind == "auto" else index_kind
        with self._connect() as connection:
            connection.execute(SCHEMA)
            self._remove_unfinished(connection)
            generation = connection.execute(
                "INSERT INTO archive_qa_generations (model, dimension, count, index_type, passages) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (model, int(vectors.shape[1]), len(documents), kind, passage_total)).fetchone()[0]
            t = _table(generation)
            try:
                with connection.transaction():
                    connection.execute(TABLES.format(g=t, dimension=int(vectors.shape[1])))
                    lengths = self._copy(connection, t, documents, vectors)
                    self._copy_passages(connection, t, documents, passages, passage_vectors)
                    connection.execute(INDEXES.format(g=t))
                    if kind == "hnsw":
                        connection.execute(f"CREATE INDEX ON {t}_documents USING hnsw (embedding vector_ip_ops)")
                    connection.execute(
                        "UPDATE archive_qa_generations SET avg_length = %s, avg_head_length = %s, with_text = %s "
                        "WHERE id = %s", (*lengths, generation))
                for name in TABLE_NAMES:
                    connection.execute(f"ANALYZE {t}_{name}")
                with connection.transaction():  # the publish: readers see the old generation or this one
                    connection.execute("UPDATE archive_qa_generations SET published = now() WHERE id = %s",
                                       (generation,))
                    connection.execute("INSERT INTO archive_qa_current (one, generation) VALUES (1, %s) "
                                       "ON CONFLICT (one) DO UPDATE SET generation = excluded.generation", (generation,))
            except psycopg.Error as error:
                self._drop(connection, generation)
                raise IndexWriteError(f"writing generation {generation} to {_safe(self.url)} failed ({error}); nothing "
                                      "was published and the previous collection is unchanged") from error
            log.info("published generation %s to %s", generation, _safe(self.url))
            self._collect_garbage(connection)
        return str(generation)

    def _copy(self, connection: psycopg.Connection, t: str, documents: list[Document], vectors: np.ndarray
              ) -> tuple[float, float, int]:
        """COPY the documents, people, places and term statistics; returns the mean lengths and the text count."""
        df: dict[str, list[int]] = {}
        total = head_total = with_text = 0
        analysed = [[analyze(field) for field in fts_fields(doc)] for doc in documents]
        with connection.cursor().copy(f"COPY {t}_postings FROM STDIN") as postings:
            for row, fields in enumerate(analysed):
                counts: dict[str, list[int]] = {}
                where: dict[str, list[int]] = {}
                for f, terms in enumerate(fields):
                    for n, term in enumerate(terms):
                        counts.setdefault(term, [0, 0, 0, 0])[f] += 1
                        where.setdefault(term, []).append(f * FIELD_SPAN + n)
                for term, tf in counts.items():
                    postings.write_row((term, row, *tf, where[term]))
                    entry = df.setdefault(term, [0, 0])
                    entry[0] += 1
                    entry[1] += 1 if (tf[0] or tf[1] or tf[3]) else 0
        with connection.cursor().copy(
                f"COPY {t}_documents ({COLUMNS}, placement_start, placement_end, length, head_length, tsv, embedding) "
                "FROM STDIN") as copy:
            for row, (doc, fields) in enumerate(zip(documents, analysed)):
                length = sum(len(terms) for terms in fields)
                head = length - len(fields[2])
                total += length
                head_total += head
                with_text += 1 if doc.text else 0
                placement = doc.placement
                copy.write_row((
                    row, doc.id, doc.date.iso if doc.date else None, doc.date_raw,
                    doc.date_inferred.iso if doc.date_inferred else None, doc.title, doc.summary, doc.text,
                    json.dumps(doc.people), json.dumps(doc.places), doc.source, doc.url,
                    json.dumps(doc.extra, ensure_ascii=False), doc.embedding_key(), json.dumps(doc.regions),
                    doc.places_from, doc.regions_from,
                    placement.start.isoformat() if placement else None, placement.end.isoformat() if placement else None,
                    length, head, _tsvector(fields), _vector_text(vectors[row])))
        with connection.cursor().copy(f"COPY {t}_people FROM STDIN") as copy:
            for row, doc in enumerate(documents):
                for name in doc.people:
                    copy.write_row((row, name, person_key(name)))
        with connection.cursor().copy(f"COPY {t}_places FROM STDIN") as copy:
            for row, doc in enumerate(documents):
                for kind, names in (("place", doc.places), ("region", doc.regions)):
                    for name in names:
                        copy.write_row((row, kind, name, person_key(name)))
        with connection.cursor().copy(f"COPY {t}_terms FROM STDIN") as copy:
            for term, (n, n_head) in df.items():
                copy.write_row((term, n, n_head))
        count = max(len(documents), 1)
        return total / count, head_total / count, with_text

    def _copy_passages(self, connection: psycopg.Connection, t: str, documents: list[Document],
                       passages: dict[int, list[Any]], passage_vectors: np.ndarray | None) -> None:
        """COPY the passages, numbered in document row order, then text order (the rows of passage_vectors)."""
        if not passages or passage_vectors is None:
            return
        halves = np.asarray(passage_vectors).astype(np.float16)  # what the embedded store keeps, to the bit
        row = 0
        with connection.cursor().copy(f"COPY {t}_passages FROM STDIN") as copy:
            for doc_row in sorted(passages):
                text = documents[doc_row].text or ""
                for passage in passages[doc_row]:
                    words = text[passage.start:passage.end]
                    copy.write_row((row, doc_row, "text", passage.start, passage.end, passage.key, words,
                                    _vector_text(halves[row])))
                    row += 1

    def _drop(self, connection: psycopg.Connection, generation: int) -> None:
        """Remove a generation's tables and row."""
        t = _table(generation)
        for name in TABLE_NAMES:
            connection.execute(f"DROP TABLE IF EXISTS {t}_{name}")
        connection.execute("DELETE FROM archive_qa_generations WHERE id = %s AND id NOT IN "
                           "(SELECT generation FROM archive_qa_current)", (generation,))

    def _remove_unfinished(self, connection: psycopg.Connection) -> None:
        """Generations a killed writer left unpublished."""
        for (generation,) in connection.execute(
                "SELECT id FROM archive_qa_generations WHERE published IS NULL").fetchall():
            log.warning("removing unfinished generation %s left by an interrupted ingest", generation)
            self._drop(connection, generation)

    def _collect_garbage(self, connection: psycopg.Connection) -> None:
        """All but the newest KEEP published generations."""
        old = connection.execute("SELECT id FROM archive_qa_generations WHERE published IS NOT NULL "
                                 "ORDER BY id DESC OFFSET %s", (KEEP,)).fetchall()
        for (generation,) in old:
            log.info("removing old generation %s", generation)
            self._drop(connection, generation)


def check_server(url: str, replicas: Sequence[str] = ()) -> Any:
    """`archive-qa check` for a server: the published generation's tables, counts, vectors and passages, and
    which generation each replica serves. Returns a `check.CheckReport`."""
    from .check import CheckReport

    report = CheckReport()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
            _check_generation(connection, report)
    except psycopg.OperationalError as error:
        report.problems.append(f"cannot reach {_safe(url)} ({error}); start it (`make postgres`) or check --store")
        return report
    for replica in replicas:
        try:
            with psycopg.connect(replica, autocommit=True, connect_timeout=10) as connection:
                info = current(connection)
        except psycopg.OperationalError as error:
            report.notes.append(f"replica {_safe(replica)} does not answer ({error}); reads go to the next server")
            continue
        if info is None or str(info["id"]) != report.generation:
            report.notes.append(f"replica {_safe(replica)} serves generation {info and info['id']}, the primary "
                                f"{report.generation}: it has not replayed the last publish yet")
    return report


def _check_generation(connection: psycopg.Connection, report: Any) -> None:
    """The published generation: every table there, rows numbered 0..n-1, unit vectors of the right dimension,
    every passage a slice of its document's text."""
    info = current(connection)
    if info is None:
        report.problems.append("no collection is published; build one with `archive-qa ingest FILE... --store URL`")
        return
    unfinished = [g for (g,) in connection.execute("SELECT id FROM archive_qa_generations WHERE published IS NULL")]
    if unfinished:
        report.notes.append(f"unfinished generation(s) {', '.join(map(str, unfinished))} from an interrupted ingest; "
                            "the next ingest removes them")
    report.generation, report.documents = str(info["id"]), int(info["count"])
    t, dimension = _table(info["id"]), int(info["dimension"])
    missing = [f"{t}_{name}" for name in TABLE_NAMES
               if connection.execute("SELECT to_regclass(%s)", (f"{t}_{name}",)).fetchone()[0] is None
               and not (name == "passages" and not info["passages"])]
    if missing:
        report.problems.append(f"generation {info['id']} lacks its table(s) {', '.join(missing)}")
        return
    count, last, wrong_size, not_unit = connection.execute(
        f"SELECT count(*), coalesce(max(row), -1), count(*) FILTER (WHERE vector_dims(embedding) <> %s), "
        f"count(*) FILTER (WHERE abs(vector_norm(embedding) - 1) > 1e-3) FROM {t}_documents", (dimension,)).fetchone()
    _numbering_problems(report, f"{t}_documents", "documents", count, last, info["count"], wrong_size, not_unit,
                        dimension)
    if not info["passages"]:
        return
    count, last, wrong_size, not_unit, outside = connection.execute(
        f"SELECT count(*), coalesce(max(p.row), -1), count(*) FILTER (WHERE vector_dims(p.embedding) <> %s), "
        f"count(*) FILTER (WHERE abs(l2_norm(p.embedding) - 1) > 1e-2), "
        f"count(*) FILTER (WHERE d.row IS NULL OR p.start < 0 OR p.\"end\" <= p.start "
        f"OR p.\"end\" > length(d.text) OR substr(d.text, p.start + 1, p.\"end\" - p.start) <> p.text) "
        f"FROM {t}_passages p LEFT JOIN {t}_documents d ON d.row = p.doc_row", (dimension,)).fetchone()
    _numbering_problems(report, f"{t}_passages", "passages", count, last, info["passages"], wrong_size, not_unit,
                        dimension)
    if outside:
        report.problems.append(f"{t}_passages: {outside} passage(s) are not the slice of their document's text "
                               "they name")


def _numbering_problems(report: Any, table: str, what: str, count: int, last: int, expected: int,
                        wrong_size: int, not_unit: int, dimension: int) -> None:
    """Problems of one table whose rows must be numbered 0..expected-1 and hold unit vectors of `dimension`."""
    if (count, last) != (expected, expected - 1):
        report.problems.append(f"{table} holds {count} {what} numbered to {last}, the generation says {expected}")
    if wrong_size or not_unit:
        report.problems.append(f"{table}: {wrong_size} vector(s) not of dimension {dimension}, {not_unit} not "
                               "of unit length")


def _lexeme(term: str) -> str:
    """A term quoted as a tsquery lexeme."""
    return "'" + term.replace("'", "''").replace("\\", "\\\\") + "'"


def _tsvector(fields: list[list[str]]) -> str:
    """A tsvector literal of the terms with positions, weighted by field: title A, summary B, people C, text D."""
    positions: dict[str, list[str]] = {}
    position = 0
    for terms, label in zip(fields, ("A", "B", "D", "C")):
        for term in terms:
            position += 1
            if position < 16384:  # tsvector positions stop at 16383
                positions.setdefault(term, []).append(f"{position}{label}")
        position += 1  # no phrase across fields
    parts = []
    for term, where in positions.items():
        parts.append(f"{_lexeme(term)}:{','.join(where[:256])}")
    return " ".join(parts)


def _vector_text(vector: np.ndarray) -> str:
    """pgvector's text form."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32).reshape(-1)) + "]"


def _safe(url: str) -> str:
    """A URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url
