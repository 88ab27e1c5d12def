"""The support check: does each answer sentence's cited span hold every date, number and person the sentence names?

A sentence is framing plus a quote. The framing ("On 28 August 1951, in “Title”: ") is checked against the
cited document's own record (its date and title); the quote against the cited span, which must slice out of
its document exactly. A sentence whose quote names a date, number or person that its span does not hold is
unsupported. People are compared after aliases, so "Filippov" in a span supports "Stalin" in a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .documents import Document

MONTHS = ("january february march april may june july august september october november december").split()
_MARKER = re.compile(r"\s*\[(\d+)\]")
_SENTENCE = re.compile(r"(.+?\[\d+\](?:\[\d+\])*[.!?]?)(?=\s|$)", re.DOTALL)
_LEAD = re.compile(r"^(?:On|In) ([^,:]+?)(?:, | \(|: |$)")
_FRAME_TITLE = re.compile(r"^,? ?in (?:an? [\w ]+?|“[^”]*”)(?: \([^)]*\))?: ")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_MONTH = re.compile(r"\b(" + "|".join(MONTHS) + r")\b", re.IGNORECASE)


@dataclass
class Finding:
    """The verdict on one answer sentence."""

    sentence: str
    marker: int | None
    supported: bool
    problems: list[str] = field(default_factory=list)


def sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence, its markers) for each sentence of an answer that carries a marker."""
    found = []
    for match in _SENTENCE.finditer(answer):
        text = match.group(1).strip()
        found.append((text, [int(n) for n in _MARKER.findall(text)]))
    return found


def check(answer: dict[str, Any], documents: Mapping[str, Document],
          people: Callable[[str], set[str]] | None = None) -> list[Finding]:
    """Findings for every cited sentence of an `ask` answer; `people(text)` gives the canonical people a text names."""
    from .answer import LEAD_IN

    citations = {c["marker"]: c for c in answer.get("citations", [])}
    findings = []
    for text, marks in sentences(LEAD_IN.sub("", answer.get("answer", ""), count=1)):
        marker = marks[0] if marks else None
        cited = citations.get(marker) if marker is not None else None
        if cited is None:
            findings.append(Finding(text, marker, False, ["no citation for this marker"]))
            continue
        if cited.get("kind") == "person":  # cited as the people index, not a document
            findings.append(Finding(text, marker, True))
            continue
        findings.append(check_sentence(text, cited, documents.get(cited["id"]), people,
                                       verbatim=answer.get("method") == "extractive"))
    return findings


def check_sentence(sentence: str, cited: Mapping[str, Any], doc: Document | None,
                   people: Callable[[str], set[str]] | None = None, verbatim: bool = True) -> Finding:
    """One sentence against its citation's passage; `verbatim` also requires the quote to be the span's words."""
    marker = cited.get("marker")
    passage = cited.get("passage")
    problems: list[str] = []
    if doc is None:
        return Finding(sentence, marker, False, [f"cited document {cited.get('id')!r} is not in the archive"])
    if not passage:
        return Finding(sentence, marker, False, ["the citation carries no passage"])
    source = getattr(doc, str(passage.get("field")), None) if passage.get("field") in ("text", "summary",
                                                                                        "title") else None
    start, end = passage.get("start"), passage.get("end")
    if not isinstance(source, str) or not isinstance(start, int) or not isinstance(end, int) \
            or source[start:end] != passage.get("text"):
        return Finding(sentence, marker, False, ["the passage does not slice out of its document"])
    quote, frame_problems = _unframe(_MARKER.sub("", sentence).strip().rstrip(".!?").strip(), doc)
    quote = quote.strip("“”")
    problems += frame_problems
    span = passage["text"]
    span_numbers = set(_NUMBER.findall(span))
    problems += [f"number {n} is not in the span" for n in dict.fromkeys(_NUMBER.findall(quote))
                 if n not in span_numbers]
    span_months = {m.lower() for m in _MONTH.findall(span)}
    problems += [f"month {m} is not in the span" for m in dict.fromkeys(x.lower() for x in _MONTH.findall(quote))
                 if m not in span_months]
    if people is not None:
        missing = people(quote) - people(span)
        problems += [f"person {name} is not in the span" for name in sorted(missing)]
    if verbatim and " ".join(quote.lower().split()) not in " ".join(span.lower().split()) \
            and not _words_in(quote, span):
        problems.append("the quoted words are not the span's")
    return Finding(sentence, marker, not problems, problems)


def precision(findings: list[Finding]) -> float | None:
    """The share of sentences supported, or None when there are none."""
    return sum(f.supported for f in findings) / len(findings) if findings else None


def _unframe(sentence: str, doc: Document) -> tuple[str, list[str]]:
    """The quoted part of a sentence, and problems with its framing (a date lead or title not the document's)."""
    problems = []
    lead = _LEAD.match(sentence)
    if lead and lead.group(1).strip() and (doc.date or doc.date_inferred):
        said = lead.group(1).strip()
        if doc.date and said != doc.date.display:
            problems.append(f"the date lead {said!r} is not the document's date {doc.date.display!r}")
        sentence = sentence[lead.end() - (2 if lead.group().endswith(": ") else 0):]
        sentence = sentence.lstrip(", ")
    elif sentence.startswith(("An undated", "In an undated", "In “", "Undated: ")):
        sentence = re.sub(r"^[^:]*: ", "", sentence, count=1)
    title = _FRAME_TITLE.match(sentence)
    if title:
        named = re.search(r"“([^”]*)”", title.group())
        if named and doc.title and not _same_title(named.group(1), doc.title):
            problems.append("the title in the sentence is not the document's")
        sentence = sentence[title.end():]
    return sentence.strip(), problems


def _same_title(quoted: str, title: str) -> bool:
    """Whether a quoted (maybe shortened with …) title is the document's."""
    stem = quoted.rstrip(" …").strip()
    return title.strip().rstrip(".").startswith(stem)


def _words_in(quote: str, span: str) -> bool:
    """Whether the quote's words appear in order, contiguous, in the span (case and line breaks aside)."""
    words = re.findall(r"\w+", quote.lower())
    text = re.findall(r"\w+", span.lower())
    return any(text[i:i + len(words)] == words for i in range(len(text) - len(words) + 1)) if words else True
