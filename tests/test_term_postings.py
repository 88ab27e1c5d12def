"""Term postings: FTS5's BM25 of one-word phrases computed in numpy, to the bit, with FTS5 behind them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archive_qa.ranking import lexical
from archive_qa.store import Store
from archive_qa.store.term_postings import FILES, TermPostings

WEIGHTS = {"fts": (3.0, 2.0, 1.0, 2.0), "fts_head": (3.0, 2.0, 2.0)}


def fts5(store: Store, table: str, word: str, weights: tuple[float, ...]) -> list[tuple[int, float]]:
    """FTS5's own -bm25() of one phrase, rows ascending."""
    return sorted(store.database.phrase_scores(table, word, weights))


def corpus_words(store: Store, limit: int = 600) -> list[str]:
    """Distinct words of the stored titles, summaries and people, diacritics and all."""
    words: dict[str, None] = {}
    for _, doc, _ in store.iter_documents():
        for text in (doc.title, doc.summary, " ".join(doc.people)):
            words.update(dict.fromkeys(lexical.terms(text or "")))
    return list(words)[:limit]


@pytest.mark.parametrize("table", ["fts", "fts_head"])
def test_every_word_scores_as_fts5_does(bundled_index: Path, table: str) -> None:
    store = Store.open(bundled_index)
    postings = store.term_postings
    assert postings is not None, "a new generation is written with its postings"
    scored = 0
    for word in corpus_words(store) + ["Zhōu", "Kaesong", "neutral", "1951", "states"]:
        found = postings.scores(table, word, WEIGHTS[table])
        if found is None:
            continue
        scored += 1
        assert list(zip(found[0].tolist(), found[1].tolist())) == fts5(store, table, word, WEIGHTS[table]), word
    assert scored > 400


def test_a_word_with_diacritics_finds_its_plain_spelling(bundled_index: Path) -> None:
    postings = Store.open(bundled_index).term_postings
    assert postings.frequency("Zhōu") == postings.frequency("zhou") == postings.frequency("ZHOU") > 0
    assert postings.scores("fts", "Zhōu", WEIGHTS["fts"])[1].tolist() == \
        postings.scores("fts", "zhou", WEIGHTS["fts"])[1].tolist()


def test_phrases_and_unknown_words_are_left_to_fts5(bundled_index: Path) -> None:
    postings = Store.open(bundled_index).term_postings
    assert postings.scores("fts", "Fyn Si", WEIGHTS["fts"]) is None  # two terms: only FTS5 keeps positions
    assert postings.frequency("Fyn Si") is None and postings.occurs("Fyn Si", [0, 1]) is None
    assert postings.frequency("zzzqqx") is None
    assert postings.scores("fts", "zzzqqx", WEIGHTS["fts"]) is None


def test_fractional_weights_stay_within_rounding(bundled_index: Path) -> None:
    store = Store.open(bundled_index)
    weights = (2.5, 1.3, 0.7, 1.1)
    rows, scores = store.term_postings.scores("fts", "armistice", weights)
    expected = fts5(store, "fts", "armistice", weights)
    assert rows.tolist() == [row for row, _ in expected]
    assert scores.tolist() == pytest.approx([score for _, score in expected], rel=1e-12)


def test_a_generation_without_postings_ranks_the_same_through_fts5(bundled_index: Path, tmp_path: Path) -> None:
    copy = tmp_path / "index"
    shutil.copytree(bundled_index, copy)
    older = Store.open(copy)
    manifest = json.loads((older.generation / "manifest.json").read_text())
    for name in FILES:  # as a generation written before the postings: neither the files nor their entries
        (older.generation / name).unlink()
        del manifest["files"][name]
    (older.generation / "manifest.json").write_text(json.dumps(manifest))
    older = Store.open(copy)
    assert older.term_postings is None
    words = lexical.terms("what did Stalin say about the armistice talks at Kaesong and prisoners of war?")
    with_postings = Store.open(bundled_index)
    for table, head in (("fts", False), ("fts_head", True)):
        assert older.lexical(words, 50, WEIGHTS[table], head=head) == \
            with_postings.lexical(words, 50, WEIGHTS[table], head=head)
    assert TermPostings.open(older.generation) is None


def test_document_frequencies_and_hits_are_fts5s(bundled_index: Path) -> None:
    store = Store.open(bundled_index)
    words = corpus_words(store, 300) + ["zzzqqx", "u.s."]
    rows = [0, 5, 17, 120, 301]
    assert store.document_frequencies(words) == store.database.document_frequencies(words)
    assert store.words_in(words, rows) == store.database.words_in(words, rows)
    assert any(store.words_in(words, rows).values()) and not all(store.words_in(words, rows).values())


def test_unreadable_postings_leave_fts5_to_rank(bundled_index: Path, tmp_path: Path, caplog) -> None:
    copy = tmp_path / "index"
    shutil.copytree(bundled_index, copy)
    generation = Store.open(copy).generation
    terms = generation / "postings_terms.json"
    terms.write_text("{" + " " * (terms.stat().st_size - 1))  # same size, so the manifest's check passes
    damaged = Store.open(copy)
    words = lexical.terms("armistice talks at Kaesong")
    assert damaged.lexical(words, 20, WEIGHTS["fts"]) == Store.open(bundled_index).lexical(words, 20, WEIGHTS["fts"])
    assert damaged.term_postings is None and "cannot be read" in caplog.text


def test_recent_reads_are_kept_within_their_bound(bundled_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archive_qa.store import term_postings

    monkeypatch.setattr(term_postings, "READ_MEMORY", 2000)  # bytes: a handful of short lists
    store = Store.open(bundled_index)
    postings = TermPostings(store.generation)
    words = corpus_words(store, 200)
    first = {word: postings.scores("fts", word, WEIGHTS["fts"]) for word in words}
    assert postings._recent.total <= 2000 or len(postings._recent) == 1
    for word in reversed(words):  # asked again, from the memory or the file: the same rows and scores
        again = postings.scores("fts", word, WEIGHTS["fts"])
        assert (again is None) == (first[word] is None)
        if again is not None:
            assert again[0].tolist() == first[word][0].tolist() and again[1].tolist() == first[word][1].tolist()
            assert postings.occurs(word, [int(again[0][-1])]) is True
    assert postings._recent.total <= 2000 or len(postings._recent) == 1
