"""Optional generated answers from an OpenAI-compatible chat endpoint, checked marker by marker and span by span.

The model is given numbered passages (each result's evidence spans), not whole documents; a marker cites
one passage, and every sentence must pass the support check (support.py) against the passage it cites.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import httpx

from . import settings
from .answer import citation_entry, markers, split_sentences

log = logging.getLogger(__name__)

CONTEXT_DOCUMENTS = 6  # retrieved documents whose passages are handed to the model
PASSAGES_PER_DOCUMENT = 2
SYSTEM = (
    "You answer questions about an archive of dated historical documents. Use ONLY the numbered passages "
    "given; never use other knowledge. Write two to four short sentences. End every sentence with the marker "
    "of the one passage it comes from, like [1] or [2]; every sentence needs a marker, and only the numbers of "
    "the passages given are valid. Every date, number and name in a sentence must appear in the passage it "
    "cites. Lead with the document's date where it helps (\"On 28 August 1951, ...\"). "
    "If the passages do not answer the question, reply exactly: NO ANSWER"
)


class GenerationError(RuntimeError):
    """The endpoint failed, or its reply failed the marker check."""


def enabled() -> bool:
    """Whether a chat endpoint is configured (ARCHIVE_QA_LLM_URL)."""
    return bool(settings.get("llm_url"))


def passages(documents: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(result, span) for the numbered passages: each result's best evidence spans, in ranking order."""
    return [(doc, span) for doc in documents for span in (doc.get("evidence") or [])[:PASSAGES_PER_DOCUMENT]]


def context(question: str, numbered: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, str]]:
    """The chat messages: rules, then the numbered passages (the only context), then the question."""
    blocks = []
    for number, (doc, span) in enumerate(numbered, start=1):
        lines = [f"[{number}] date: {doc.get('date_display') or 'undated'}"]
        if doc.get("title"):
            lines.append(f"document: {doc['title']}")
        lines.append(f"passage: {' '.join(span['text'].split())}")
        blocks.append("\n".join(lines))
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"}]


def check(reply: str, count: int) -> list[int]:
    """The markers of a reply, in order of first use, when every one points at one of `count` documents.

    Raises:
        GenerationError: naming the fault: no markers, a marker out of range, or a sentence without one.
    """
    found = markers(reply)
    if not found:
        raise GenerationError("the reply cites no document")
    wrong = sorted({n for n in found if not 1 <= n <= count})
    if wrong:
        raise GenerationError(f"the reply cites [{', '.join(map(str, wrong))}] but only [1]–[{count}] were given")
    for sentence in split_sentences(reply):
        if not markers(sentence) and re.search(r"[A-Za-z]{3}", sentence):
            raise GenerationError(f"a sentence carries no marker: {sentence[:80]!r}")
    return list(dict.fromkeys(found))


def tidy(reply: str) -> str:
    """One line; "[1, 2]" as "[1][2]"; a marker set after a sentence's full stop moved before it."""
    text = " ".join(reply.split())
    text = re.sub(r"\[(\d+(?:\s*[,;]\s*\d+)+)\]",
                  lambda m: "".join(f"[{n}]" for n in re.findall(r"\d+", m.group(1))), text)
    text = re.sub(r"\s*([.!?])\s*((?:\[\d+\]\s*)+)(?=\s|$)", lambda m: f" {m.group(2).strip()}{m.group(1)}", text)
    return text.strip()


def generate(question: str, response: dict[str, Any],
             supports: Callable[[dict[str, Any]], list[Any]] | None = None) -> dict[str, Any]:
    """A generated answer in the shape of `answer.compose`'s, its markers and cited spans checked.

    `supports(answer)` returns the support check's findings (support.check); any unsupported sentence fails.

    Raises:
        GenerationError: on any failure; the caller falls back to the extractive answer.
    """
    numbered = passages(response.get("results", [])[:CONTEXT_DOCUMENTS])
    if not numbered:
        raise GenerationError("nothing retrieved to answer from")
    url = str(settings.get("llm_url")).rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if settings.get("llm_key"):
        headers["Authorization"] = f"Bearer {settings.get('llm_key')}"
    body = {"model": settings.get("llm_model") or "default", "temperature": 0,
            "messages": context(question, numbered)}
    try:
        reply = httpx.post(url, json=body, headers=headers, timeout=float(settings.get("llm_timeout")))
        reply.raise_for_status()
        content = reply.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        raise GenerationError(f"chat endpoint {url}: {type(error).__name__}: {error}") from None
    content = tidy(str(content or ""))
    if content.strip().upper().startswith("NO ANSWER"):
        raise GenerationError("the model found no answer in the documents")
    used = check(content, len(numbered))
    result = {"answer": content, "answerable": True,
              "citations": [citation_entry(n, numbered[n - 1][0], numbered[n - 1][1]) for n in used],
              "documents": response.get("results", []), "interpreted": response.get("interpreted") or {},
              "method": "generated"}
    failed = [f for f in (supports(result) if supports else []) if not f.supported]
    if failed:
        raise GenerationError(f"a sentence is not supported by the passage it cites: {failed[0].sentence[:80]!r} "
                              f"({'; '.join(failed[0].problems)})")
    return result
