"""Extractive answers: a few dated sentences, each quoting one evidence span of a top document, with its marker."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any


from . import urls
from .dates import PartialDate
from .documents import Document
from .words import stems

log = logging.getLogger(__name__)

NO_ANSWER = "The archive holds nothing on this question."
BROWSE_LEAD = "The most central documents"  # opens a period's or person's list
NOT_THEIRS_LEAD = "The archive holds no words of"  # opens an answer that cannot quote the person asked about
LEAD_IN = re.compile(rf"^(?:{BROWSE_LEAD}[^:]*:|{NOT_THEIRS_LEAD} [^;]+; the closest documents are by others:)\s*")
MAX_SENTENCES = 3  # sentences in an ordinary answer
MAX_SEQUENCE = 5  # sentences when the question asks for a sequence of events
CONSIDERED = 6  # top documents a sentence may come from
RELATIVE_FLOOR = 0.5  # a later document joins when its best span shares this share of the best's question words
MAX_CHARS = 320  # longest quoted sentence
SUPPORT_SIMILARITY = 0.5  # best cosine at which spans sharing no word with the question still answer it

SEQUENCE = re.compile(
    r"\b(sequence|chronolog\w*|timeline|over time|in order|order of events|step by step|evolv\w*|develop\w*|"
    r"progress\w*|course of|history of|how did .* change|what happened|events|first .* then|"
    r"before and after|unfold\w*)\b",
    re.IGNORECASE,
)
_ABBREVIATIONS = ("mr.", "mrs.", "dr.", "gen.", "st.", "no.", "u.s.", "u.n.", "u.k.", "p.m.", "a.m.", "vol.",
                  "jr.", "sr.", "col.", "lt.", "adm.", "amb.", "gov.", "sen.", "rep.", "ibid.", "cf.", "e.g.", "i.e.")
_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z0-9])")
_DOCUMENT_NOUNS = frozenset("telegram memorandum letter draft note message report minutes record cable despatch "
                            "dispatch circular instruction airgram aide-mémoire statement".split())
GENERIC_TITLES = {"editorial note": "editorial note", "note": "note", "untitled": "document"}
_LOWER_LEAD = frozenset("the a an this these that those he she they it we his her their its our there".split())


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


def asks_for_sequence(question: str) -> bool:
    """Whether the question asks how events followed one another."""
    return bool(SEQUENCE.search(question))


def date_lead(result: dict[str, Any]) -> str:
    """"On 28 August 1951", "In August 1951", "In 1951" or "" for an undated document."""
    if not result.get("date"):
        return ""
    date = PartialDate.from_iso(result["date"])
    return f"{'On' if date.precision == 'day' else 'In'} {date.display}"


def phrase(result: dict[str, Any], sentence: str, marker: int) -> str:
    """One answer sentence: date lead, the title where the record has one, the sentence, the marker."""
    text = " ".join(sentence.split())  # the span's words, verbatim (line breaks become spaces)
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
        if first.lower() in _LOWER_LEAD or first.lower() in _DOCUMENT_NOUNS:
            text = first.lower() + text[len(first):]
    return f"{lead}, {text} [{marker}]."


def compose(question: str, response: dict[str, Any],
            lookup: Callable[[Iterable[str]], dict[str, Document]] | None = None,
            chronological: bool | None = None, authors: Callable[[Document], set[str]] | None = None
            ) -> dict[str, Any]:
    """The extractive answer to a question from a search response: each sentence quotes one evidence span.

    Args:
        response: what `search` returned; its `answerable` flag decides whether to answer, and each result's
            `evidence` (best span first) is what a sentence may quote.
        lookup: id => Document, to tell who wrote a document (with `authors`).
        chronological: order the sentences by date (default: when the question asks for a sequence).
        authors: the canonical people who wrote or said a document, for "what did X say" questions.
    """
    results: list[dict[str, Any]] = response.get("results", [])
    answerable = bool(response.get("answerable", bool(results))) and bool(results)
    interpreted = response.get("interpreted") or {}
    base = {"answerable": answerable, "documents": results, "interpreted": interpreted, "method": "extractive"}
    if not answerable:
        return no_answer(response)
    if interpreted.get("browse"):
        return {**browse_list(results, interpreted), **base}
    sequence = asks_for_sequence(question) if chronological is None else chronological
    limit = MAX_SENTENCES if not sequence else MAX_SEQUENCE
    top = [r for r in results[:max(CONSIDERED, limit)] if r.get("evidence")]
    if not top:
        return no_answer(response)
    lead_in = ""
    author = interpreted.get("author")
    if author and authors is not None and lookup is not None:
        documents = lookup([r["id"] for r in top])
        theirs = [r for r in top if r["id"] in documents and author in authors(documents[r["id"]])]
        if theirs:
            top = theirs
        else:
            lead_in = f"{NOT_THEIRS_LEAD} {author} on this; the closest documents are by others: "
    words = stems(question)
    overlap = [len(words & stems(r["evidence"][0]["text"])) for r in top]
    if not overlap[0] and not any(overlap) and (response.get("confidence") or 0.0) < SUPPORT_SIMILARITY:
        log.info("no span of the top documents shares a word with %r; answering that the archive holds nothing",
                 question)
        return no_answer(response)
    best = max(overlap)
    chosen = [top[0]] + [r for r, shared in zip(top[1:], overlap[1:])
                         if shared and shared >= RELATIVE_FLOOR * best][: limit - 1]
    if len(chosen) == 1 and not best:  # a paraphrase: no span shares a word, the ranking alone vouches
        chosen = top[:2]
    if sequence:
        chosen.sort(key=_placement)
    sentences, citations = [], []
    for marker, result in enumerate(chosen, start=1):
        passage = quotable(result["evidence"][0])
        sentences.append(phrase(result, passage["text"], marker))
        citations.append(citation_entry(marker, result, passage))
    return {"answer": lead_in + " ".join(sentences), "citations": citations, **base}


_WHO = re.compile(r"^\s*who\s+(?:was|is|were|are)\s+(?:comrade\s+|mr\.?\s+)?(.+?)\s*\??\s*$", re.IGNORECASE)


def asks_who(question: str) -> str | None:
    """The name in "Who was X?" ("who is Filippov", "Who were ..."), else None."""
    match = _WHO.match(question)
    return match.group(1).strip(" \"'“”") if match and len(match.group(1)) <= 80 else None


def person_answer(person: dict[str, Any], response: dict[str, Any], asked: str | None = None) -> dict[str, Any]:
    """"Who was X?" from the people index: canonical name, life dates, other names, documents; cited as the index."""
    name = person["name"]
    life = f" ({person['born'] or '?'}–{person['died'] or ''})" if person.get("born") or person.get("died") else ""
    others = [other for other in person.get("other_names") or person.get("aliases") or []
              if other.lower() != name.lower()]
    shown = ", ".join(others[:8]) + (" …" if len(others) > 8 else "")
    count = person.get("documents", 0)
    sentences = [f"{asked} is a name of {name}{life} in this archive's people index [1]."
                 if asked and asked.lower() != name.lower() else f"{name}{life} is in this archive's people index [1]."]
    if shown:
        sentences.append(f"Other names: {shown} [1].")
    sentences.append(f"{count} document{'s' if count != 1 else ''} here name{'s' if count == 1 else ''} them [1].")
    text = " ".join(sentences)
    citation = {"marker": 1, "kind": "person", "id": person["name"], "date": None, "date_display": None,
                "title": f"People index: {person['name']}", "url": urls.person_page(person["name"]),
                "source_url": None, "passage": None}
    return {"answer": text, "answerable": True, "citations": [citation], "documents": response.get("results", []),
            "interpreted": response.get("interpreted") or {}, "method": "people index"}


def browse_list(results: list[dict[str, Any]], interpreted: dict[str, Any]) -> dict[str, Any]:
    """A period's or person's most central documents as a short dated list, each quoting its title or summary."""
    chosen = results[:MAX_SEQUENCE]
    period = interpreted.get("date_phrase")
    people = ", ".join(interpreted.get("people") or [])
    subject = " ".join(filter(None, [f"of {people}" if people else "", f"from {period}" if period else ""]))
    sentences, citations = [], []
    for marker, result in enumerate(chosen, start=1):
        passage = quotable(_heading_span(result))
        lead = date_lead(result) or "Undated"
        sentences.append(f"{lead}: “{' '.join(passage['text'].split())}” [{marker}].")
        citations.append(citation_entry(marker, result, passage))
    return {"answer": f"{BROWSE_LEAD} {subject}:".replace("  ", " ") + " " + " ".join(sentences),
            "citations": citations}


def _heading_span(result: dict[str, Any]) -> dict[str, Any]:
    """The span that names a document best: its title, else its summary's first sentence, else its evidence."""
    title = result.get("title")
    if title and not GENERIC_TITLES.get(title.strip().rstrip(".").lower()):
        return {"field": "title", "start": 0, "end": len(title), "text": title}
    summary = result.get("summary")
    if summary:
        from .passages import sentence_spans

        start, end = sentence_spans(summary)[0]
        return {"field": "summary", "start": start, "end": end, "text": summary[start:end]}
    return result["evidence"][0]


def quotable(passage: dict[str, Any]) -> dict[str, Any]:
    """A span narrowed to what a sentence quotes: no "Subject:" lead, no closing punctuation, at most MAX_CHARS."""
    text, start = passage["text"], passage["start"]
    lead = re.match(r"\s*(?:Subject|Re|Ref):\s*", text)
    if lead and lead.end() < len(text):
        start, text = start + lead.end(), text[lead.end():]
    trimmed = text.rstrip(" .;:,\n\t")
    if len(trimmed) > MAX_CHARS:
        cut = trimmed.rfind(" ", 0, MAX_CHARS)
        trimmed = trimmed[:cut if cut > 0 else MAX_CHARS].rstrip(" .;:,")
    return {"field": passage["field"], "start": start, "end": start + len(trimmed), "text": trimmed}


def citation_entry(marker: int, result: dict[str, Any], passage: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a marker points at: the document, the span the sentence quotes, and the page opened at that span."""
    return {"marker": marker, "kind": "document", "id": result["id"], "date": result.get("date"),
            "date_display": result.get("date_display"), "title": result.get("title") or result.get("label"),
            "url": urls.document_page(result["id"], passage), "source_url": result.get("url"), "passage": passage}


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
