"""Optional generated answers from an OpenAI-compatible chat endpoint, checked marker by marker."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from . import settings
from .answer import citation_entry, markers, split_sentences

log = logging.getLogger(__name__)

CONTEXT_DOCUMENTS = 6  # retrieved documents handed to the model
TEXT_CHARS = 1500  # characters of each document's full text in the context
SYSTEM = (
    "You answer questions about an archive of dated historical documents. Use ONLY the numbered documents "
    "given; never use other knowledge. Write two to four short sentences. End every sentence with the marker "
    "of the document it comes from, like [1] or [2]; every sentence needs a marker, and only the numbers of "
    "the documents given are valid. Lead with the document's date where it helps (\"On 28 August 1951, ...\"). "
    "If the documents do not answer the question, reply exactly: NO ANSWER"
)


class GenerationError(RuntimeError):
    """The endpoint failed, or its reply failed the marker check."""


def enabled() -> bool:
    """Whether a chat endpoint is configured (ARCHIVE_QA_LLM_URL)."""
    return bool(settings.get("llm_url"))


def context(question: str, documents: list[dict[str, Any]], texts: dict[str, str]) -> list[dict[str, str]]:
    """The chat messages: rules, then the numbered documents (the only context), then the question."""
    blocks = []
    for number, doc in enumerate(documents, start=1):
        lines = [f"[{number}] date: {doc.get('date_display') or 'undated'}"]
        if doc.get("title"):
            lines.append(f"title: {doc['title']}")
        if doc.get("summary"):
            lines.append(f"summary: {doc['summary']}")
        text = texts.get(doc["id"])
        if text:
            lines.append(f"text: {text[:TEXT_CHARS]}")
        blocks.append("\n".join(lines))
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Documents:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"}]


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


def generate(question: str, response: dict[str, Any], texts: dict[str, str] | None = None) -> dict[str, Any]:
    """A generated answer in the shape of `answer.compose`'s, its markers checked.

    Raises:
        GenerationError: on any failure; the caller falls back to the extractive answer.
    """
    documents = response.get("results", [])[:CONTEXT_DOCUMENTS]
    if not documents:
        raise GenerationError("nothing retrieved to answer from")
    url = str(settings.get("llm_url")).rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if settings.get("llm_key"):
        headers["Authorization"] = f"Bearer {settings.get('llm_key')}"
    body = {"model": settings.get("llm_model") or "default", "temperature": 0,
            "messages": context(question, documents, texts or {})}
    try:
        reply = httpx.post(url, json=body, headers=headers, timeout=float(settings.get("llm_timeout")))
        reply.raise_for_status()
        content = reply.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        raise GenerationError(f"chat endpoint {url}: {type(error).__name__}: {error}") from None
    content = tidy(str(content or ""))
    if content.strip().upper().startswith("NO ANSWER"):
        raise GenerationError("the model found no answer in the documents")
    used = check(content, len(documents))
    return {"answer": content, "answerable": True,
            "citations": [citation_entry(n, documents[n - 1]) for n in used],
            "documents": response.get("results", []), "interpreted": response.get("interpreted") or {},
            "method": "generated"}
