"""Passages at ingest and evidence spans in results: exact offsets, sizes, reuse, and snippets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive_qa.archive import Archive, open_index
from archive_qa.indexing import ingest
from archive_qa.passages import MAX_WORDS, MIN_WORDS, sentence_spans, split
from conftest import DATA, MODEL, write_jsonl

QUESTIONS = ("Dalai Lama asylum", "what did Stalin say about neutral countries?", "Formosa strategic importance",
             "prisoners of war repatriation", "What happened in July 1951?")


@pytest.fixture(scope="module")
def bundled(bundled_on) -> Archive:
    """The bundled collection on this param's store (`store_kind`, conftest): evidence is read from its passages."""
    return bundled_on.archive()


def test_sentences_end_at_stops_not_at_abbreviations_or_initials() -> None:
    text = "Mr. Dulles met Gen. Ridgway in Tokyo. The U.S. view was firm! J. F. Dulles left.\n\nA new paragraph"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Mr. Dulles met Gen. Ridgway in Tokyo.", "The U.S. view was firm!", "J. F. Dulles left.", "A new paragraph"]


def test_passages_of_the_bundled_texts_slice_exactly_and_keep_their_size() -> None:
    records = [json.loads(line) for line in (DATA / "frus1951v07p2.jsonl").read_text().splitlines()]
    sizes = []
    for record in records:
        text = record.get("text") or ""
        passages = split(text)
        for passage in passages:
            piece = text[passage.start:passage.end]
            assert piece == piece.strip() and piece
            sizes.append(len(piece.split()))
        if passages:  # together they cover every sentence, in order, without overlap
            assert all(a.end <= b.start for a, b in zip(passages, passages[1:]))
            assert " ".join(text[p.start:p.end] for p in passages).split() == text.split()
    assert max(sizes) <= MAX_WORDS
    assert sum(MIN_WORDS <= size for size in sizes) / len(sizes) > 0.95  # only whole short texts are shorter


def test_every_result_carries_evidence_that_slices_out_of_its_document(bundled: Archive) -> None:
    for question in QUESTIONS:
        for result in bundled.search(question, k=10)["results"]:
            doc = bundled.document(result["id"])
            assert 1 <= len(result["evidence"]) <= 3, (question, result["id"])
            for span in result["evidence"]:
                assert set(span) == {"field", "start", "end", "text"}
                assert getattr(doc, span["field"])[span["start"]:span["end"]] == span["text"]
            snippet = result["snippet"]
            assert getattr(doc, snippet["field"])[snippet["start"]:snippet["end"]] == snippet["text"]
            for start, end in snippet["marks"]:
                assert snippet["text"][start:end].lower()[:4] in question.lower()


def test_the_best_span_answers_the_question(bundled: Archive) -> None:
    found = bundled.search("Dalai Lama asylum", k=5)["results"]
    assert all("asylum" in r["evidence"][0]["text"].lower() or "dalai" in r["evidence"][0]["text"].lower()
               for r in found[:3])
    top = bundled.search("what did Stalin say about neutral countries?", k=3)["results"][0]
    assert top["id"] == "seed-03" and "neutral countries" in top["evidence"][0]["text"]


def test_unchanged_passages_are_not_embedded_again(tmp_path: Path, embedder) -> None:
    record = json.loads((DATA / "frus1951v07p2.jsonl").read_text().splitlines()[5])
    other = {**record, "id": "copy", "text": record["text"] + "\n\nA closing paragraph added later, in full."}
    path = write_jsonl(tmp_path / "c.jsonl", [record])
    first = ingest(tmp_path / "index", [path], MODEL)
    assert first.passages == first.passages_embedded > 0
    again = ingest(tmp_path / "index", [write_jsonl(tmp_path / "d.jsonl", [record, other])], MODEL)
    assert again.passages_embedded <= 1  # only the new document's changed last passage
    assert again.passages in (2 * first.passages, 2 * first.passages + 1)  # the copy's own last passage
    archive = open_index(tmp_path / "index")
    assert archive.stats()["passages"] == again.passages
    passages = archive.document_json("copy")["passages"]
    assert passages and all(other["text"][p["start"]:p["end"]] == p["text"] for p in passages)


def test_passages_can_be_turned_off(tmp_path: Path, embedder) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [json.loads((DATA / "frus1951v07p2.jsonl").read_text().splitlines()[5])])
    report = ingest(tmp_path / "index", [path], MODEL, passages=False)
    assert report.passages == 0
    result = open_index(tmp_path / "index").search("telegram", k=1)["results"][0]
    assert result["evidence"]  # summary sentences still serve as evidence
