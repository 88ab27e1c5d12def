"""Per-term postings of a generation, so FTS5's BM25 of a one-word phrase is a numpy expression, not a scan.

FTS5's bm25() calls back into the tokenizer's positions for every matching row, about 2 µs a row here: a word
of many documents ("states": 6,879 of FRUS's 7,344) costs 12 ms, and a new question's words cost ~5 ms in
all (bench/lexical_cache.py has the cache that spares the repeated ones). The postings written with each
generation hold, for every term, the rows it occurs in and its count in each field; a one-term phrase is then
scored with FTS5's formula in FTS5's order of operations, from the row lengths FTS5 itself stored
(`fts_docsize`), so the scores are FTS5's to the last bit whenever the field weights are whole numbers
(tests/test_term_postings.py checks the bundled data's words, bench/term_postings.py the dev questions').
Terms come from `analysis.analyze`, FTS5's tokenizer in Python; a phrase of more than one term, a term the
postings lack and a generation written before them are asked of FTS5 as before.

Files: postings.npy (row int32 and per-field counts, term by term, rows ascending; read with pread, not
mapped), postings_lengths.npy (each row's token count over every field and over the head fields, as FTS5
counted them) and postings_terms.json (the terms, sorted, and their offsets).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..documents import Document
from ..lru import LRU
from .analysis import analyze, term_counts
from .database import fts_fields

log = logging.getLogger(__name__)

POSTINGS = "postings.npy"
LENGTHS = "postings_lengths.npy"
TERMS = "postings_terms.json"
FILES = (POSTINGS, LENGTHS, TERMS)
K1, B = 1.2, 0.75  # FTS5's bm25() constants
HEAD_FIELDS = (0, 1, 3)  # fts_head's columns (title, summary, people) among fts's (title, summary, text, people)
PHRASE_MEMORY = 65536  # phrases whose term is remembered (then forgotten all at once)
READ_MEMORY = 4 << 20  # bytes of the latest postings read, kept: a hybrid question reads each word's three times
_UNSEEN = object()
Scores = tuple[np.ndarray, np.ndarray]  # rows (int32, ascending), scores (float64, higher is better)


def write(directory: Path, documents: Iterable[Document], database: Path) -> int:
    """Write the postings of `documents` (in row order) beside `database`, whose FTS5 row lengths they use; the
    number of (term, row) pairs."""
    ids: dict[str, int] = {}
    term_ids, rows = array("i"), array("i")
    counts = [array("I") for _ in range(4)]
    analysed_lengths = array("q")
    for row, doc in enumerate(documents):
        per_field = [term_counts(text) for text in fts_fields(doc)]
        analysed_lengths.append(sum(c.total() for c in per_field))
        for term in set().union(*per_field):
            term_ids.append(ids.setdefault(term, len(ids)))
            rows.append(row)
            for field, found in zip(counts, per_field):
                field.append(found.get(term, 0))
    terms = sorted(ids)
    rank = np.empty(len(ids), dtype=np.int32)
    rank[[ids[term] for term in terms]] = np.arange(len(terms), dtype=np.int32)
    term_array = rank[np.frombuffer(term_ids, dtype=np.int32)] if len(term_ids) else np.zeros(0, dtype=np.int32)
    order = np.argsort(term_array, kind="stable")  # term by term, terms sorted; rows stay ascending within one
    tf = np.stack([np.frombuffer(c, dtype=np.uint32) for c in counts], axis=1)[order]
    dtype = np.uint16 if not len(tf) or tf.max() <= np.iinfo(np.uint16).max else np.uint32
    postings = np.empty(len(order), dtype=[("row", np.int32), ("tf", dtype, (4,))])
    postings["row"] = np.frombuffer(rows, dtype=np.int32)[order]
    postings["tf"] = tf
    starts = np.searchsorted(term_array[order], np.arange(len(ids) + 1))
    lengths = fts_lengths(database, len(analysed_lengths))
    differ = int(np.count_nonzero(lengths[0] != np.frombuffer(analysed_lengths, dtype=np.int64)))
    if differ:  # FTS5 counted some row's tokens otherwise: that row's rare terms may be keyed differently
        log.info("term postings: %d of %d rows tokenised otherwise than FTS5 counts them", differ, len(lengths[0]))
    np.save(directory / POSTINGS, postings)
    np.save(directory / LENGTHS, lengths)
    (directory / TERMS).write_text(json.dumps({"terms": terms, "offsets": starts.tolist()}), encoding="utf-8")
    return len(postings)


def fts_lengths(database: Path, count: int) -> np.ndarray:
    """(2, count) int64: each row's tokens in every fts column and in fts_head's, from FTS5's own docsize."""
    lengths = np.zeros((2, count), dtype=np.int64)
    connection = sqlite3.connect(database)
    try:
        for row, blob in connection.execute("SELECT id, sz FROM fts_docsize"):
            sizes = _varints(blob)
            lengths[0, row] = sum(sizes)
            lengths[1, row] = sum(sizes[field] for field in HEAD_FIELDS if field < len(sizes))
    finally:
        connection.close()
    return lengths


def _varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers, one after the other (FTS5's docsize record; counts fit in 8 bytes)."""
    values, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    return values


class TermPostings:
    """One generation's postings (terms and lengths in memory, postings read from the file as asked): BM25 of
    one-term phrases over fts or fts_head."""

    def __init__(self, directory: Path) -> None:
        mapped = np.load(directory / POSTINGS, mmap_mode="r")  # for its layout; the pages are read with pread
        self._dtype, self._start, self._length = mapped.dtype, int(mapped.offset), len(mapped)
        del mapped
        self._file = os.open(directory / POSTINGS, os.O_RDONLY)
        lengths = np.load(directory / LENGTHS)
        self.lengths = {"fts": lengths[0].astype(np.float64), "fts_head": lengths[1].astype(np.float64)}
        saved = json.loads((directory / TERMS).read_text(encoding="utf-8"))
        self._terms: list[str] = saved["terms"]  # sorted: looked up by bisection (a dict of them is ~3x the memory)
        self._offsets = np.asarray(saved["offsets"], dtype=np.int64)
        self._phrases: dict[str, tuple[int, int] | None] = {}
        self._recent: LRU[np.ndarray] = LRU(READ_MEMORY, cost=lambda read: read.nbytes)  # (start, end) => postings
        if len(self._offsets) != len(self._terms) + 1 or (len(self._offsets) and self._offsets[-1] != self._length):
            raise ValueError(f"{directory / TERMS} does not match {directory / POSTINGS}")
        self.rows = len(lengths[0])
        self.average = {table: float(sum(int(n) for n in lengths[i])) / float(self.rows) if self.rows else 1.0
                        for i, table in enumerate(("fts", "fts_head"))}

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            os.close(self._file)

    def _read(self, start: int, end: int) -> np.ndarray:
        """Postings start..end, read from the file (the OS caches its pages; they are not this process's memory,
        as a memory map's touched pages would be: ~25 MiB more server RSS over the FRUS benchmark). The latest
        READ_MEMORY bytes read are kept: BM25, the fusion's trust and the verdict each ask for a question's words."""
        return self._recent.get((start, end), lambda: self._from_file(start, end))

    def _from_file(self, start: int, end: int) -> np.ndarray:
        """Postings start..end as the file holds them."""
        size = self._dtype.itemsize
        data = os.pread(self._file, (end - start) * size, self._start + start * size)
        if len(data) != (end - start) * size:
            raise OSError(f"postings file is shorter than its terms say ({len(data)} of {(end - start) * size} bytes)")
        return np.frombuffer(data, dtype=self._dtype)

    @classmethod
    def open(cls, directory: Path) -> TermPostings | None:
        """The postings of a generation, or None for one written before them."""
        return cls(directory) if all((directory / name).is_file() for name in FILES) else None

    def _located(self, phrase: str) -> tuple[int, int] | None:
        """(start, end) of the postings of the one term a phrase is; None sends the phrase to FTS5 (a phrase of
        two terms, or a term no document holds). Remembered: a question's words are looked up for BM25, the
        fusion's trust and the verdict."""
        known = self._phrases.get(phrase, _UNSEEN)
        if known is not _UNSEEN:
            return known
        terms = analyze(phrase)
        found = self._span(terms[0]) if len(terms) == 1 else None
        if len(self._phrases) >= PHRASE_MEMORY:
            self._phrases.clear()
        self._phrases[phrase] = found
        return found

    def _span(self, term: str) -> tuple[int, int] | None:
        """(start, end) of a term's postings, None for a term no document holds."""
        at = bisect_left(self._terms, term)
        if at == len(self._terms) or self._terms[at] != term:
            return None
        return int(self._offsets[at]), int(self._offsets[at + 1])

    def scores(self, table: str, phrase: str, weights: Sequence[float]) -> Scores | None:
        """FTS5's -bm25(table, *weights) of every row matching the phrase, or None when FTS5 must answer."""
        located = self._located(phrase)
        if located is None:
            return None
        found = self._read(*located)
        tf = found["tf"].astype(np.float64)
        rows = found["row"].astype(np.int32)
        fields = HEAD_FIELDS if table == "fts_head" else (0, 1, 2, 3)
        if table == "fts_head":
            inside = tf[:, list(HEAD_FIELDS)].any(axis=1)
            tf, rows = tf[inside], rows[inside]
        frequency = np.zeros(len(rows), dtype=np.float64)
        for weight, field in zip(list(weights) + [1.0] * (len(fields) - len(weights)), fields):
            frequency += tf[:, field] * float(weight)
        hits = len(rows)
        idf = math.log((self.rows - hits + 0.5) / (hits + 0.5))
        idf = idf if idf > 0.0 else 1e-6
        length = self.lengths[table][rows]
        # FTS5: idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + b * D / avgdl))), in this order
        score = idf * ((frequency * (K1 + 1.0)) / (frequency + K1 * (1 - B + B * length / self.average[table])))
        return rows, score

    def frequency(self, word: str) -> int | None:
        """How many rows hold the word in any field, or None when FTS5 must answer."""
        located = self._located(word)
        return None if located is None else located[1] - located[0]

    def occurs(self, word: str, rows: Sequence[int]) -> bool | None:
        """Whether the word occurs in any of `rows`, or None when FTS5 must answer."""
        located = self._located(word)
        if located is None:
            return None
        holding = self._read(*located)["row"]
        wanted = np.asarray(rows, dtype=np.int32)
        at = np.searchsorted(holding, wanted)
        return bool(np.any(holding[np.minimum(at, len(holding) - 1)] == wanted)) if len(holding) else False

