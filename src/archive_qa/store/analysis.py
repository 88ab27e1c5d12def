"""Text analysis as SQLite FTS5 does it (unicode61, diacritics removed, Porter stems), for backends that keep
their own term statistics, so BM25 there ranks as the embedded store's FTS5 does."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache

import Stemmer

_TOKEN = re.compile(r"[^\W_]+")
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's Porter stemmer (the C stemmer is not shared across threads)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("porter")
    return stemmer


@lru_cache(maxsize=1)
def _marks() -> dict[int, None]:
    """A `str.translate` table deleting every nonspacing mark (category Mn) of this Python's Unicode (built once)."""
    return {code: None for code in range(0x110000) if unicodedata.category(chr(code)) == "Mn"}


def _fold(text: str) -> str:
    """Lower case without diacritics ("Zhōu" -> "zhou")."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFD", lowered)
    if len(decomposed) < 5000:  # a question or a title: cheaper than building the table
        return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return decomposed.translate(_marks())


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    """One token's Porter stem; FTS5 leaves tokens under three or over 64 characters as they are."""
    if len(token) < 3 or len(token) > 64:
        return token
    stem = _stemmer().stemWord(token)
    # FTS5's Porter has the two later step-2 rules the original lacks: -logi -> -log, -bli -> -ble
    if stem.endswith("logi"):
        return stem[:-1]
    if stem.endswith("bli") and token.endswith("y"):
        return _stemmer().stemWord(token[:-1] + "e")
    return stem


def analyze(text: str | None) -> list[str]:
    """The terms of a text in order: runs of letters and digits, folded and stemmed."""
    if not text:
        return []
    return [_stem(token) for token in _TOKEN.findall(_fold(text))]


def term_counts(text: str | None) -> Counter[str]:
    """How often each term of a text occurs (`analyze`'s terms, each distinct token stemmed once)."""
    counts: Counter[str] = Counter()
    if text:
        for token, count in Counter(_TOKEN.findall(_fold(text))).items():
            counts[_stem(token)] += count
    return counts
