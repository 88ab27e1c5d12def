"""Extractive answers: a few dated sentences drawn from the top documents, each carrying its marker."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import urls
from .dates import PartialDate
from .documents import Document
from .embedding import Embedder

log = logging.getLogger(__name__)

NO_ANSWER = "The archive holds nothing on this question."
MAX_SENTENCES = 3  # sentences in an ordinary answer
MAX_SEQUENCE = 5  # sentences when the question asks for a sequence of events
CONSIDERED = 6  # top documents a sentence may come from
RELATIVE_FLOOR = 0.8  # a later document joins the answer when its best sentence scores this share of the best
THIN_SUMMARY = 120  # characters: below this (title aside) the full text is read as well
TEXT_SENTENCES = 6  # text sentences per document kept, by word overlap, before embedding
MAX_CHARS = 320  # longest quoted sentence
PRONOUN_PENALTY = 0.15  # a sentence that opens with a pronoun reads badly out of its document
SUPPORT_SIMILARITY = 0.5  # cosine at which a sentence sharing no word with the question still answers it
OVERLAP_WEIGHT = 0.5  # share of the rarity-weighted word overlap in a sentence's score

SEQUENCE = re.compile(
    r"\b(sequence|chronolog\w*|timeline|over time|in order|order of events|step by step|evolv\w*|develop\w*|"
    r"progress\w*|course of|history of|how did .* change|what happened|events|first .* then|"
    r"before and after|unfold\w*)\b",
    re.IGNORECASE,
)
STOPWORDS = frozenset("""a about above after again against all also am an and any are as at be been before being
between both but by can could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or
other our out over own same she should so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would you your
say said says tell told ask asked think thought view anything something""".split())
_ABBREVIATIONS = ("mr.", "mrs.", "dr.", "gen.", "st.", "no.", "u.s.", "u.n.", "u.k.", "p.m.", "a.m.", "vol.",
                  "jr.", "sr.", "col.", "lt.", "adm.", "amb.", "gov.", "sen.", "rep.", "ibid.", "cf.", "e.g.", "i.e.")
_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z0-9])")
_DOCUMENT_NOUNS = frozenset("telegram memorandum letter draft note message report minutes record cable despatch "
                            "dispatch circular instruction airgram aide-mémoire statement".split())
_PRONOUN_LEAD = re.compile(r"^(he|she|they|it|this|these|his|her|their)\b", re.IGNORECASE)
GENERIC_TITLES = {"editorial note": "editorial note", "note": "note", "untitled": "document"}
_LOWER_LEAD = frozenset("the a an this these that those he she they it we his her their its our there".split())


@dataclass
class Sentence:
    """A candidate sentence of one document, with its match to the question."""

    doc: dict[str, Any]  # the search result it came from
    text: str
    score: float = 0.0
    similarity: float = 0.0  # cosine to the question (0 without a model)


def content_words(text: str) -> list[str]:
    """Lower-case words that carry meaning: stop words and one-letter tokens dropped."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS and len(w) > 1]


def stems(text: str) -> set[str]:
    """Content words with plural and verb endings cut, so "tests" meets "test" and "invited" meets "inviting"."""
    found = set()
    for word in content_words(text):
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
        found.add(word)
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences of a prose text; abbreviations such as "Mr." and "U.S." do not end one."""
    pieces: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        buffer = ""
        for part in _SPLIT.split(" ".join(block.split())):
            buffer = f"{buffer} {part}".strip() if buffer else part
            last = buffer.rsplit(" ", 1)[-1].lower()
            if last in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last):
                continue
            pieces.append(buffer)
            buffer = ""
        if buffer:
            pieces.append(buffer)
    return [p for p in pieces if p]


def _repeats(sentence: str, title: str) -> bool:
    """Whether a sentence only restates the document's title."""
    plain = sentence.strip().rstrip(".").lower()
    return bool(title) and (plain == title or (len(plain) >= 20 and (title.startswith(plain) or plain.startswith(title)
                                                                     and len(plain) - len(title) < 40)))


def asks_for_sequence(question: str) -> bool:
    """Whether the question asks how events followed one another."""
    return bool(SEQUENCE.search(question))


def candidates(result: dict[str, Any], document: Document | None, question_words: set[str]) -> list[Sentence]:
    """Sentences of a result's summary, and of its text where the summary is thin."""
    title = (result.get("title") or "").strip().rstrip(".").lower()
    summary = [s for s in split_sentences(result.get("summary") or "") if not _repeats(s, title)]
    found = [Sentence(result, s) for s in summary if len(content_words(s)) >= 2]
    body = sum(len(s.text) for s in found)
    text = document.text if document else None
    if text and body < THIN_SUMMARY:
        prose = [s for s in split_sentences(text) if 40 <= len(s) <= 1200 and "|" not in s]
        prose.sort(key=lambda s: -len(question_words & stems(s)))
        seen = {s.text for s in found}
        found += [Sentence(result, s) for s in prose[:TEXT_SENTENCES] if s not in seen]
    if not found:
        fallback = (result.get("summary") or result.get("label") or "").strip()
        found = [Sentence(result, fallback)] if fallback else []
    return found


def score_sentences(question: str, sentences: list[Sentence], embedder: Embedder | None) -> None:
    """Score each sentence against the question: cosine similarity when a model is at hand, plus word overlap.

    Overlap weighs each shared word by its rarity among the candidate documents, so names every candidate
    shares ("Mao", "Stalin") count for little and the distinctive words of the question for much.
    """
    words = stems(question)
    bags = [stems(s.text) for s in sentences]
    per_doc: dict[str, set[str]] = {}
    for sentence, bag in zip(sentences, bags):
        per_doc.setdefault(sentence.doc["id"], set()).update(bag)
    total = len(per_doc) or 1
    weight = {w: math.log(1 + total / (1 + sum(w in bag for bag in per_doc.values()))) for w in words}
    norm = sum(weight.values()) or 1.0
    overlap = [sum(weight[w] for w in words & bag) / norm for bag in bags]
    if embedder is not None and sentences:
        query = embedder.encode_query(question)
        vectors = embedder.encode_cached([s.text for s in sentences])
        cosine = vectors @ np.asarray(query, dtype=np.float32)
        for sentence, similarity, shared in zip(sentences, cosine, overlap):
            sentence.similarity = float(similarity)
            sentence.score = float(similarity) + OVERLAP_WEIGHT * shared
    else:
        for sentence, shared in zip(sentences, overlap):
            sentence.score = shared
    for sentence in sentences:  # "He states …" loses its subject once quoted alone
        if _PRONOUN_LEAD.match(sentence.text):
            sentence.score -= PRONOUN_PENALTY


def supported(question: str, sentence: Sentence) -> bool:
    """Whether the leading sentence really bears on the question: a shared content word, or a close meaning.

    A guard against stretching: the search may find its nearest documents even when none is about the question.
    """
    doc = sentence.doc
    words = stems(" ".join([sentence.text, doc.get("title") or "", doc.get("summary") or ""]))
    return bool(stems(question) & words) or sentence.similarity >= SUPPORT_SIMILARITY


def date_lead(result: dict[str, Any]) -> str:
    """"On 28 August 1951", "In August 1951", "In 1951" or "" for an undated document."""
    if not result.get("date"):
        return ""
    date = PartialDate.from_iso(result["date"])
    return f"{'On' if date.precision == 'day' else 'In'} {date.display}"


def phrase(result: dict[str, Any], sentence: str, marker: int) -> str:
    """One answer sentence: date lead, the title where the record has one, the sentence, the marker."""
    text = " ".join(sentence.split())
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    text = re.sub(r"^Subject:\s*", "", text.rstrip(" .;:,"))
    lead = date_lead(result)
    title = (result.get("title") or "").strip().rstrip(".")
    kind = GENERIC_TITLES.get(title.lower())
    if len(title) > 110:
        title = title[:110].rsplit(" ", 1)[0] + " …"
    if not lead:
        placed = PartialDate.from_iso(result["date_inferred"]).display if result.get("date_inferred") else None
        where = f" (placed at {placed})" if placed else ""
        if kind:
            opening = f"An undated {kind}{where}"
        elif title:
            opening = f"In “{title}” (undated{', placed at ' + placed if placed else ''})"
        else:
            opening = f"In an undated document{where}"
        return f"{opening}: {text} [{marker}]."
    if kind:
        return f"{lead}, in an {kind}: {text} [{marker}]."
    if title:
        return f"{lead}, in “{title}”: {text} [{marker}]."
    first = text.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].islower():
        if first.lower() in _LOWER_LEAD:
            text = first.lower() + text[len(first):]
        elif first.lower() in _DOCUMENT_NOUNS:
            text = f"{'an' if first[0] in 'AEIOU' else 'a'} {first.lower()}{text[len(first):]}"
    return f"{lead}, {text} [{marker}]."


def compose(question: str, response: dict[str, Any], embedder: Embedder | None = None,
            lookup: Callable[[Iterable[str]], dict[str, Document]] | None = None,
            chronological: bool | None = None) -> dict[str, Any]:
    """The extractive answer to a question from a search response.

    Args:
        response: what `search` returned; its `answerable` flag, where present, decides whether to answer.
        lookup: id => Document for full texts, used where a summary is thin.
        chronological: order the sentences by date (default: when the question asks for a sequence).
    """
    results: list[dict[str, Any]] = response.get("results", [])
    answerable = bool(response.get("answerable", bool(results))) and bool(results)
    base = {"answerable": answerable, "documents": results, "interpreted": response.get("interpreted") or {},
            "method": "extractive"}
    if not answerable:
        return no_answer(response)
    sequence = asks_for_sequence(question) if chronological is None else chronological
    limit = MAX_SEQUENCE if sequence else MAX_SENTENCES
    top = results[:max(CONSIDERED, limit)]
    documents = lookup([r["id"] for r in top]) if lookup else {}
    words = stems(question)
    pool = [s for r in top for s in candidates(r, documents.get(r["id"]), words)]
    score_sentences(question, pool, embedder)
    best: dict[str, Sentence] = {}
    for sentence in pool:
        held = best.get(sentence.doc["id"])
        if held is None or sentence.score > held.score:
            best[sentence.doc["id"]] = sentence
    ranked = [best[r["id"]] for r in top if r["id"] in best]
    if not ranked or not supported(question, ranked[0]):
        log.info("no sentence of the top documents supports %r; answering that the archive holds nothing", question)
        return no_answer(response)
    chosen = [ranked[0]] + [s for s in ranked[1:] if s.score >= RELATIVE_FLOOR * ranked[0].score][: limit - 1]
    if sequence:
        chosen.sort(key=lambda s: _placement(s.doc))
    sentences, citations = [], []
    for marker, sentence in enumerate(chosen, start=1):
        sentences.append(phrase(sentence.doc, sentence.text, marker))
        citations.append(citation_entry(marker, sentence.doc))
    return {"answer": " ".join(sentences), "citations": citations, **base}


def citation_entry(marker: int, result: dict[str, Any]) -> dict[str, Any]:
    """What a marker points at: the document's id, date, title and page, and its original's link."""
    return {"marker": marker, "id": result["id"], "date": result.get("date"),
            "date_display": result.get("date_display"), "title": result.get("title") or result.get("label"),
            "url": urls.document_page(result["id"]), "source_url": result.get("url")}


def no_answer(response: dict[str, Any]) -> dict[str, Any]:
    """The honest answer when the archive holds nothing on the question."""
    return {"answer": NO_ANSWER, "answerable": False, "citations": [], "documents": response.get("results", []),
            "interpreted": response.get("interpreted") or {}, "method": "extractive"}


def markers(answer: str) -> list[int]:
    """Every [n] marker in an answer text, in order."""
    return [int(n) for group in re.findall(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]", answer)
            for n in re.findall(r"\d+", group)]


def _placement(result: dict[str, Any]) -> str:
    """Sort key by date: the real date, else the inferred one, undated last."""
    return result.get("date") or result.get("date_inferred") or "9999"
