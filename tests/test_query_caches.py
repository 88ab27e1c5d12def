"""The warm-query caches give what the uncached code gives, and stay within their bounds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from archive_qa.documents import Document
from archive_qa.lru import LRU
from archive_qa.ranking import abstention, duplicates, lexical
from archive_qa.ranking.people import index_for, involvement
from archive_qa.store import Filters, Store


@pytest.fixture(scope="module")
def store(bundled_index: Path) -> Store:
    return Store.open(bundled_index)


def test_cached_involvement_equals_computed_and_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    people = index_for(store)
    documents = [doc for _, doc, _ in store.iter_documents()]
    monkeypatch.setattr("archive_qa.ranking.people.INVOLVEMENT_CACHE", 5)
    people._involved.clear()  # other tests (and the page's facet counter) share this generation's index
    for doc in documents + documents:
        assert people.involvement(doc) == involvement(doc, people)
    assert len(people._involved) <= 5


def test_cached_shingles_fold_as_the_full_texts_do(store: Store) -> None:
    text = " ".join(f"word{i}" for i in range(300))
    a = Document(id="a", summary="one", text=text)
    near = Document(id="b", summary="two", text=text.replace("word150", "changed"))
    far = Document(id="c", summary="three", text=text[: len(text) // 2])
    first, second, third = (duplicates._shingles(d.text) for d in (a, near, far))
    for other, shingles in ((near, second), (far, third)):
        exact = len(first & shingles) / len(first | shingles) >= duplicates.SAME_WORDS
        assert duplicates.same_document(a, other, cosine=0.0) is exact
    assert duplicates.same_document(a, near, 0.0) and not duplicates.same_document(a, far, 0.0)


def test_lru_keeps_the_latest_within_its_size() -> None:
    cache: LRU[int] = LRU(3)
    made: list[int] = []

    def make(key: int) -> int:
        made.append(key)
        return key * 10

    for key in (1, 2, 3, 1, 4, 2, 1):
        assert cache.get(key, lambda: make(key)) == key * 10
    assert made == [1, 2, 3, 4, 2]  # 1 was read again before 4 came, so 2 went first; then 3 went for 2
    assert len(cache) == 3


def test_shingle_hashes_are_kept_per_store(bundled_index: Path, seed_index: Path) -> None:
    """Each store keeps its own: two generations with the same id (PostgreSQL numbers them 1, 2, ... in every
    database) once shared one process-wide cache keyed by (generation id, row)."""
    first, second = Store.open(bundled_index), Store.open(seed_index)
    try:
        for store in (first, second):
            rows = list(range(min(12, store.count())))
            documents = store.by_rows(rows)
            duplicates.collapse(store, [(row, 1.0) for row in rows], documents, len(rows))
        kept = [store.cached("shingle hashes", lambda: None) for store in (first, second)]
        assert all(isinstance(cache, LRU) for cache in kept) and kept[0] is not kept[1]
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("question", ["Stalin neutral countries", "treaty of friendship xyzzyq", "the"])
def test_batched_coverage_equals_word_by_word(store: Store, question: str) -> None:
    words = lexical.terms(question) + ['odd"quote']
    rows = [0, 1, 2]
    frequencies: dict[str, int] = {}
    hits: dict[str, bool] = {}
    for word in words:  # word by word: a word the engine refuses is left out of both
        frequencies.update(store.document_frequencies([word]))
        hits.update(store.words_in([word], rows))
    total = store.count()
    weight = found = 0.0
    for word in words:
        if word in frequencies and word in hits:
            idf = math.log((total + 1) / (frequencies[word] + 0.5))
            weight += idf
            found += idf if hits[word] else 0.0
    expected = found / weight if weight else 1.0
    assert abstention.coverage(store, words, rows) == expected
    assert abstention.coverage(store, words, rows) == expected  # again, frequencies from the cache


def test_ranked_documents_read_only_as_far_as_walked(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = list(range(store.count()))[::-1][:30]
    reads: list[list[int]] = []
    by_rows = store.database.by_rows
    monkeypatch.setattr(store.database, "by_rows", lambda batch: reads.append(list(batch)) or by_rows(batch))
    ranked = store.database.ranked(rows, chunk=7)
    assert ranked[rows[0]].id == by_rows([rows[0]])[rows[0]].id
    assert reads == [rows[:7]]
    assert ranked.get(rows[15]) == by_rows([rows[15]])[rows[15]]
    assert reads == [rows[:7], rows[7:14], rows[14:21]] and len(ranked) == 21
    assert ranked.get(-1) is None and rows[29] in ranked


def test_vectors_of_rows_in_any_order_are_the_stored_ones(store: Store) -> None:
    stored = np.load(store.generation / "vectors.npy", mmap_mode="r")
    rows = [5, 0, 3, 3, 1]
    picked = store.vectors_of(rows)
    assert picked.dtype == np.float32 and np.array_equal(picked, stored[rows])


def test_filter_rows_are_remembered_per_store_and_read_only(store: Store) -> None:
    filters = Filters(date_from="1951-01-01", date_to="1951-12-31")
    rows = store.filter_rows(filters)
    assert store.filter_rows(Filters(date_from="1951-01-01", date_to="1951-12-31")) is rows
    assert not rows.flags.writeable and 0 < len(rows) < store.count()
    dense = store.dense(store.vectors_of([int(rows[0])])[0], 5, filters)
    assert dense[0][0] == int(rows[0]) and {row for row, _ in dense} <= set(rows.tolist())


def test_people_index_lives_on_its_store(bundled_index: Path, store: Store) -> None:
    assert index_for(store) is index_for(store)
    assert index_for(Store.open(bundled_index)) is not index_for(store)


def test_flat_index_lends_its_own_vectors(store: Store) -> None:
    stored = store.stored_vectors()
    on_disk = np.load(store.generation / "vectors.npy", mmap_mode="r")
    assert stored.shape == on_disk.shape and np.array_equal(stored, on_disk)
    assert not stored.flags.writeable
