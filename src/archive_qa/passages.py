"""Passages: a document's full text cut on sentence boundaries into spans of about 60-150 words, with offsets.

Offsets are character positions in `Document.text`, so `text[start:end]` is the passage exactly; the same
function gives the sentences of any field (a summary, a passage) as spans.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MIN_WORDS = 60
MAX_WORDS = 150
ABBREVIATIONS = frozenset(("mr.", "mrs.", "dr.", "gen.", "st.", "no.", "u.s.", "u.n.", "u.k.", "p.m.", "a.m.", "vol.",
                           "jr.", "sr.", "col.", "lt.", "adm.", "amb.", "gov.", "sen.", "rep.", "ibid.", "cf.", "e.g.",
                           "i.e.", "nos.", "art.", "para.", "pp.", "p.", "ca.", "messrs.", "mme.", "mlle."))
_BOUNDARY = re.compile(r"[.!?][\"”’)\]]*(?=\s+[\"“‘(\[]?[A-Z0-9])|\n\s*\n")
_WORD = re.compile(r"\S+")
_INITIALS = re.compile(r"(?:[a-z]\.)+")


@dataclass(frozen=True)
class Passage:
    """One passage of a document's text: `text[start:end]`, and the hash its reused vector is found by."""

    start: int
    end: int
    key: str


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence of text[start:end], whitespace trimmed; "Mr." and "U.S." end none."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _BOUNDARY.finditer(text, start, end):
        if text[match.start()] == "\n":  # a blank line: the sentence ends before it
            stop = match.start()
        else:  # a mark, unless it ends an abbreviation or an initial ("J. F. Dulles")
            stop = match.end()
            last = text[begin:stop].rsplit(None, 1)[-1].lower()  # the mark is not blank, so neither is this
            if last in ABBREVIATIONS or _INITIALS.fullmatch(last):
                continue
        spans.append((begin, stop))
        begin = match.end()
    spans.append((begin, end))
    return [trimmed for trimmed in (_trim(text, a, b) for a, b in spans) if trimmed[1] > trimmed[0]]


def split(text: str | None) -> list[Passage]:
    """The passages of a full text: whole sentences, MIN_WORDS to MAX_WORDS words where the sentences allow."""
    if not text or not text.strip():
        return []
    pieces: list[tuple[int, int, int]] = []  # (start, end, words): sentences, an over-long one cut at words
    for start, end in sentence_spans(text):
        words = [m.span() for m in _WORD.finditer(text, start, end)]
        for i in range(0, len(words), MAX_WORDS):
            chunk = words[i:i + MAX_WORDS]
            pieces.append((chunk[0][0], chunk[-1][1], len(chunk)))
    spans: list[list[int]] = []
    for start, end, words in pieces:
        if spans and (spans[-1][2] < MIN_WORDS and spans[-1][2] + words <= MAX_WORDS):
            spans[-1][1], spans[-1][2] = end, spans[-1][2] + words
        else:
            spans.append([start, end, words])
    if len(spans) > 1 and spans[-1][2] < MIN_WORDS and spans[-2][2] + spans[-1][2] <= MAX_WORDS:
        last = spans.pop()
        spans[-1][1], spans[-1][2] = last[1], spans[-1][2] + last[2]
    return [Passage(start, end, passage_key(text[start:end])) for start, end, _ in spans]


def passage_key(text: str) -> str:
    """The hash of a passage's text: an unchanged passage keeps its vector across ingests."""
    return hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """A span without the whitespace at its ends."""
    piece = text[start:end]
    kept = piece.strip()  # str.strip and str.isspace agree on what is whitespace
    if not kept:
        return end, end
    left = len(piece) - len(piece.lstrip())
    return start + left, start + left + len(kept)
