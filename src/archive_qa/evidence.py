"""Evidence: the best 1-3 spans of each result for the question, and a keyword-in-context snippet.

A span is `{"field", "start", "end", "text"}` with `document[field][start:end] == text`. Nothing is embedded
here: passages were embedded at ingest, a summary shares its document's vector, and the question's vector
is the one the search already made. Within the best passages, the span is the sentence that shares most of
the question's rarer words.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

import numpy as np

from .documents import Document
from .passages import sentence_spans
from .words import STOPWORDS, stems, word_stem

MAX_SPANS = 3
PASSAGES_READ = 2  # best passages of a document whose sentences are weighed
OVERLAP_WEIGHT = 0.5  # share of the rarity-weighted word overlap in a span's score
MAX_SPAN_CHARS = 400  # a span is cut at a word boundary beyond this
PRONOUN_PENALTY = 0.15  # "He said …" loses its subject once quoted alone
SNIPPET_WORDS = 14  # words either side of the first marked word
_PRONOUN_LEAD = re.compile(r"^(he|she|they|it|this|these|his|her|their)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ALNUM = re.compile(r"[a-z0-9]+")  # a word as `words.content_words` cuts it from lower-case text
_TOKEN = re.compile(r"\S+")
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")
MIN_WORDS = 4  # a quotable sentence has at least this many words
_HEAD_NOT_PROSE = (  # datelines ("Moscow, July 17, 1951—6 p. m.") and markings, at a sentence's start
    r"^\s*(?:[A-Z][A-Za-z .]{1,40}, (?:[A-Z][a-z]{2,9}\.? \d{1,2}, \d{4}|\d{1,2} [A-Z][a-z]{2,9} \d{4})\s*[—–-]|"
    r"(?:top secret|secret|confidential|restricted|unclassified|priority|niact|eyes only)\b[A-Za-z ]{0,40}$)")
_CABLE_REFERENCE = r"\b(?:[Dd]eptel|[Uu]rtel|[Mm]ytel|[Ee]mbtel|[Rr]eftel)\b"  # anywhere
_NOT_PROSE = re.compile(_HEAD_NOT_PROSE + "|" + _CABLE_REFERENCE, re.IGNORECASE)
_NOT_PROSE_HEAD = re.compile(_HEAD_NOT_PROSE, re.IGNORECASE)


@dataclass
class Span:
    """One quoted span of a document field and how well it answers the question."""

    field: str
    start: int
    end: int
    text: str
    score: float = 0.0
    similarity: float = 0.0  # cosine of the question to the passage (or document) the span lies in

    def to_dict(self) -> dict[str, Any]:
        """The four keys every evidence item and citation passage carries."""
        return {"field": self.field, "start": self.start, "end": self.end, "text": self.text}


def collect(store: Any, question: str, vector: np.ndarray | None, ranked: list[tuple[int, Document]]
            ) -> dict[str, list[Span]]:
    """Document id => its best spans (best first) for every ranked (row, Document)."""
    if not ranked:
        return {}
    words = stems(question)
    rows = [row for row, _ in ranked]
    passages = store.passages_of(rows)
    query = None if vector is None else np.asarray(vector, dtype=np.float32)
    doc_similarity = _cosines(store.vectors_of(rows), query) if query is not None else None
    passage_rows = [p for found in passages.values() for p, _, _ in found]
    passage_similarity = dict(zip(passage_rows, _cosines(store.passage_vectors(passage_rows), query))) \
        if query is not None and passage_rows else {}
    passage_bags = {p: question_stems(doc.text[a:b], words) for row, doc in ranked if doc.text
                    for p, a, b in passages.get(row, [])}  # only the question's stems: all that is asked of them
    bags = [question_stems(" ".join(filter(None, (doc.title, doc.summary))), words).union(
        *(passage_bags[p] for p, _, _ in passages.get(row, []) if p in passage_bags)) for row, doc in ranked]
    weights = _rarity(words, bags)
    found: dict[str, list[Span]] = {}
    for n, (row, doc) in enumerate(ranked):
        similarity = float(doc_similarity[n]) if doc_similarity is not None else 0.0
        spans = _summary_spans(doc, similarity, weights)
        text_passages = [p for p in passages.get(row, []) if p[0] in passage_bags]
        if text_passages and doc.text:
            def merit(p: tuple[int, int, int]) -> float:
                return passage_similarity.get(p[0], 0.0) + OVERLAP_WEIGHT * sum(
                    weights[w] for w in passage_bags[p[0]] & weights.keys())

            for passage_row, start, end in sorted(text_passages, key=merit, reverse=True)[:PASSAGES_READ]:
                spans += _sentence_spans(doc.text, "text", start, end, passage_similarity.get(passage_row, 0.0),
                                         weights, doc.title)
        if not spans:  # nothing reads as prose: the record's own words, as far as it has them
            spans = _fallback(doc, passages.get(row, []), similarity)
        spans.sort(key=lambda s: -s.score)
        found[doc.id] = _distinct(spans)[:MAX_SPANS]
    return found


def question_stems(piece: str, wanted: frozenset[str]) -> frozenset[str]:
    """`stems(piece) & wanted`, found by looking for each wanted stem rather than stemming every word of the piece.

    Every word of a new document's passages and quoted sentences used to be stemmed for the few words a
    question has: on FRUS with passages, evidence took 5.2 ms of a new dense question, 2.7 ms like this.
    `wanted` holds stems, as `words.stems` makes them: ASCII letters and digits. A word of the piece has one
    of them as its stem only where it starts with it, so only those words are stemmed.
    """
    if not wanted:
        return wanted
    low = piece.lower()
    found = []
    for stem in wanted:
        at = low.find(stem)
        while at >= 0:
            if at and _ALNUM.match(low, at - 1):  # inside a word: not where a word starts
                at = low.find(stem, at + 1)
                continue
            word = _ALNUM.match(low, at).group()
            if len(word) > 1 and word not in STOPWORDS and word_stem(word) == stem:
                found.append(stem)
                break
            at = low.find(stem, at + len(word))
    return frozenset(found)


def snippet(doc: Document, span: Span, question: str) -> dict[str, Any]:
    """The span's neighbourhood in its field, SNIPPET_WORDS words either side of the first question word in it,
    with `marks` [[start, end], ...] of the question's words relative to the snippet's text."""
    source = getattr(doc, span.field) or ""
    wanted = stems(question)
    first = marked_words(source, span.start, span.end, wanted)[:1]
    anchor = first[0][0] if first else span.start
    start, end = _around(source, anchor, span.start - 40 * SNIPPET_WORDS, span.end + 40 * SNIPPET_WORDS)
    marks = [[a - start, b - start] for a, b in marked_words(source, start, end, wanted)]
    return {"field": span.field, "start": start, "end": end, "text": source[start:end], "marks": marks,
            "before": bool(source[:start].strip()), "after": bool(source[end:].strip())}


def marked_words(source: str, low: int, high: int, wanted: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of each word of source[low:high] (`_WORD`, as `finditer(source, low, high)` cuts them) whose
    lower-cased stem is one of `wanted`, in order.

    Found like `question_stems`: each wanted stem is looked for in the lower-cased piece and only the words
    that start with one are stemmed (a snippet's window has ~60 words and a question 3-6 stems). Where lower
    case changes the piece's length ("İ"), offsets would shift, so every word is stemmed instead.
    """
    if not wanted or high <= low:
        return []
    piece = source[low:high]
    lowered = piece.lower()
    if len(lowered) != len(piece):
        return [m.span() for m in _WORD.finditer(source, low, high) if word_stem(m.group().lower()) in wanted]
    starts = set()
    for stem in wanted:
        at = lowered.find(stem)
        while at >= 0:
            starts.add(at)
            at = lowered.find(stem, at + 1)
    found = []
    for at in sorted(starts):
        if at and _WORD.match(piece, at - 1):
            continue  # inside a word
        word = _WORD.match(piece, at)
        if word and word_stem(word.group().lower()) in wanted:
            found.append((low + at, low + word.end()))
    return found


def _around(source: str, anchor: int, low: int, high: int) -> tuple[int, int]:
    """(start, end) of SNIPPET_WORDS tokens either side of the first token of source[low:high] ending after
    `anchor` (the window's first where fewer precede it), its first SNIPPET_WORDS + 1 where none ends after it,
    (0, 0) where it holds none. Tokens are read only as far as the snippet reaches."""
    low = max(0, low)
    near = max(low, anchor - 20 * SNIPPET_WORDS)  # tokens are read from here when enough of them precede anchor
    if near > low and len(_TOKEN.findall(source, near, anchor)) <= SNIPPET_WORDS + 1:
        near = low  # too few (one may be cut by near, one by anchor): the window's own start decides
    before: deque[tuple[int, int]] = deque(maxlen=SNIPPET_WORDS)  # the last tokens ending at or before anchor
    tokens = _TOKEN.finditer(source, near, high)
    for match in tokens:
        if match.end() > anchor:
            end = match.end()
            for end in islice((m.end() for m in tokens), SNIPPET_WORDS):
                pass
            return (before[0][0] if before else match.start()), end
        before.append(match.span())
    if not before:
        return 0, 0
    everything = [m.span() for m in _TOKEN.finditer(source, low, high)]  # no token ends after anchor
    return everything[0][0], everything[min(len(everything), SNIPPET_WORDS + 1) - 1][1]


def _fallback(doc: Document, passages: list[tuple[int, int, int]], similarity: float) -> list[Span]:
    """The summary, else the first passage, else the title, as one span (cut to MAX_SPAN_CHARS)."""
    for field, start, end in (("summary", 0, len(doc.summary or "")),
                              ("text", *(passages[0][1:] if passages else (0, 0))),
                              ("title", 0, len(doc.title or ""))):
        source = getattr(doc, field) or ""
        if end > start and source[start:end].strip():
            a, b = _bounded(source, start, end)
            return [Span(field, a, b, source[a:b], similarity, similarity)]
    return []


def _summary_spans(doc: Document, similarity: float, weights: dict[str, float]) -> list[Span]:
    """A summary's sentences, each scored with its document's cosine (the summary is what was embedded)."""
    if not doc.summary:
        return []
    return _sentence_spans(doc.summary, "summary", 0, len(doc.summary), similarity, weights, doc.title)


def _sentence_spans(source: str, field: str, start: int, end: int, similarity: float,
                    weights: dict[str, float], title: str | None = None) -> list[Span]:
    """Sentence spans of source[start:end], scored; one that only repeats the title is left out.

    Only the stems written somewhere in the piece are looked for in its sentences: a sentence's lower case
    is a piece of the piece's (stems are ASCII, and lower case maps character by character but for a Greek
    final sigma), so no other stem can be in it, and most pieces hold none or one of a question's stems.
    """
    piece = source[start:end]
    lowered = piece.lower()
    keys = frozenset(w for w in weights if w in lowered)
    return [Span(field, start + a, start + b, text,
                 similarity + OVERLAP_WEIGHT * sum(weights[w] for w in question_stems(text, keys))
                 - (PRONOUN_PENALTY if pronoun else 0.0), similarity)
            for a, b, text, pronoun in _quotable(piece, title or "")]


@lru_cache(maxsize=4096)
def _quotable(piece: str, title: str) -> tuple[tuple[int, int, str, bool], ...]:
    """(start, end, text, opens with a pronoun) of each quotable sentence of a summary or passage.

    None of it depends on the question, so it is cached by the piece's text (a summary or one passage, not
    a whole full text): a document's sentences are cut and read once, not once a search. Which of the
    question's words a sentence holds is looked up per question (`question_stems`), which costs less than
    stemming every word of a sentence seen for the first time.
    """
    heading = " ".join(title.lower().rstrip(". ").split())
    found = []
    for a, b in sentence_spans(piece):
        if not _prose(piece[a:b]):
            continue
        a, b = _bounded(piece, a, b)
        text = piece[a:b]
        if heading and " ".join(text.lower().rstrip(". ").split()) == heading:
            continue  # a summary or text that opens by repeating the title says nothing more
        found.append((a, b, text, bool(_PRONOUN_LEAD.match(text))))
    return tuple(found)


def _prose(text: str) -> bool:
    """A sentence a reader can be quoted: words mostly, not a dateline, a classification or a cable reference."""
    words = text.split()
    if len(words) < MIN_WORDS or not_prose(text):
        return False
    # tokens with a letter and no digit. In an all-ASCII token isalpha is [A-Za-z] and isdigit [0-9], so most
    # are settled by one isalpha and the rest by two searches; the few holding other characters ("don’t",
    # "Hammarskjöld", "—") are read character by character (the regex pass this replaces took 3.8 µs a FRUS
    # sentence; splitting and this loop take 1.9)
    wordy = 0
    for w in words:
        if w.isascii():
            wordy += w.isalpha() or (_LETTER.search(w) is not None and _DIGIT.search(w) is None)
        else:
            wordy += any(c.isalpha() for c in w) and not any(c.isdigit() for c in w)
    return wordy >= 0.6 * len(words)


def not_prose(text: str) -> bool:
    """`_NOT_PROSE.search(text)`, its unanchored cable references looked for only where "tel" is written.

    The pattern is tried at every position of the sentence for them (4-5 µs a sentence here); every one of
    them ends in "tel", and no character but T, E and L matches those three letters with IGNORECASE, so a
    sentence without "tel" in its lower case needs only the anchored alternatives, tried at its start.
    """
    if "tel" in text.lower():
        return _NOT_PROSE.search(text) is not None
    return _NOT_PROSE_HEAD.match(text) is not None


def _bounded(source: str, start: int, end: int) -> tuple[int, int]:
    """A span cut to MAX_SPAN_CHARS at a word boundary."""
    if end - start <= MAX_SPAN_CHARS:
        return start, end
    cut = source.rfind(" ", start, start + MAX_SPAN_CHARS)
    return start, (cut if cut > start else start + MAX_SPAN_CHARS)


def _distinct(spans: list[Span]) -> list[Span]:
    """Spans that do not overlap a better one."""
    kept: list[Span] = []
    for span in spans:
        if not any(k.field == span.field and k.start < span.end and span.start < k.end for k in kept):
            kept.append(span)
    return kept


def _rarity(words: set[str], bags: list[set[str]]) -> dict[str, float]:
    """Each question word weighted by how few of the ranked documents hold it (names all share count little)."""
    total = len(bags) or 1
    weights = {w: math.log(1 + total / (1 + sum(w in bag for bag in bags))) for w in words}
    norm = sum(weights.values()) or 1.0
    return {w: value / norm for w, value in weights.items()}


def _cosines(vectors: np.ndarray, query: np.ndarray | None) -> np.ndarray:
    """Cosine of unit-length vectors to a unit-length query."""
    if query is None or not len(vectors):
        return np.zeros(len(vectors), dtype=np.float32)
    return np.asarray(vectors, dtype=np.float32) @ query
