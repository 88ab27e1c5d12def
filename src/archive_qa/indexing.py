"""Ingest, remove and reindex: every change builds a new generation, published only when complete."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .documents import Document
from . import settings
from .embedding import get_embedder
from .passages import Passage, split
from .places import locate
from .records import CollectionError, RecordError, read_collection
from .store import IndexMismatchError, IndexMissingError, StoreReader, open_store, open_writer
from .store.factory import store_url
from .store.layout import writer_lock
from .store.store import stored_documents, write_generation

log = logging.getLogger(__name__)


class IngestRefused(Exception):
    """A batch with bad records that was not ingested (strict mode, or no valid record at all)."""

    def __init__(self, errors: list[RecordError], why: str = "--strict") -> None:
        super().__init__(f"{len(errors)} bad record(s); nothing was ingested ({why})")
        self.errors = errors


@dataclass
class IngestReport:
    """What an ingest did."""

    added: int = 0
    replaced: int = 0
    removed: int = 0
    embedded: int = 0
    passages: int = 0  # passages of the full texts in the index
    passages_embedded: int = 0  # of which embedded now (the others kept their vectors)
    total: int = 0
    errors: list[RecordError] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"{self.added} added, {self.replaced} replaced, "
                f"{self.removed} removed, {len(self.errors)} skipped; {self.total} documents in the index "
                f"({self.embedded} embedded); {self.passages} passages ({self.passages_embedded} embedded)")


def read_batch(paths: Sequence[str | Path]) -> tuple[list[Document], list[RecordError]]:
    """All valid documents and all bad records of a batch of files; ids must be unique across it."""
    documents: list[Document] = []
    errors: list[RecordError] = []
    seen: dict[str, str] = {}
    for path in paths:
        for item in read_collection(path, seen):
            (errors if isinstance(item, RecordError) else documents).append(item)
    return documents, errors


def ingest(index_dir: str | Path, paths: Sequence[str | Path], model: str, *, strict: bool = False,
           sync: bool = False, device: str = "auto", batch_size: int = 64, index_kind: str = "auto",
           progress: bool | None = None, passages: bool | None = None, store: str | None = None) -> IngestReport:
    """Add or replace the documents of `paths` in the index.

    Args:
        passages: cut full texts into passages and embed them (default: the `passages` setting).
        sync: make the index hold exactly these files' documents: ids not in the batch are removed
            (their vectors are still reused for unchanged documents).
        store: a postgresql:// URL to write to instead of `index_dir` (also ARCHIVE_QA_STORE).

    Raises:
        CollectionError: a file is missing, empty or unreadable (nothing is written).
        IngestRefused: strict mode met bad records, or no record was valid (nothing is written).
    """
    if not paths:
        raise CollectionError("no files given; name one or more .jsonl, .json or .csv collections")
    documents, errors = read_batch(paths)
    if errors and strict:
        raise IngestRefused(errors)
    report = IngestReport(errors=errors)
    if not documents and errors:
        raise IngestRefused(errors, "no valid record in the batch")
    if not documents:
        raise CollectionError(f"no valid records in {', '.join(map(str, paths))}; nothing was ingested")
    for path in paths:  # a FRUS TEI volume's persons list feeds the people index as aliases
        if Path(path).suffix.lower() == ".xml":
            from .tei import write_people_file

            write_people_file(Path(path), Path(index_dir))
    return _apply(Path(index_dir), model, documents, [], report, device, batch_size, index_kind, progress, sync,
                  passages, store)


def remove(index_dir: str | Path, ids: Sequence[str], model: str | None = None,
           store: str | None = None) -> IngestReport:
    """Remove documents by id; unknown ids are reported as errors.

    store: a postgresql:// URL to remove from instead of `index_dir` (also ARCHIVE_QA_STORE).
    """
    index_dir = Path(index_dir)
    opened = open_store(index_dir, store)  # the index directory, or the server
    return _apply(index_dir, model or opened.model, [], list(ids), IngestReport(), "auto", 64, "auto", False,
                  store=store)


def reindex(index_dir: str | Path, model: str, *, device: str = "auto", batch_size: int = 64,
            index_kind: str = "auto", progress: bool | None = None, store: str | None = None) -> IngestReport:
    """Re-embed every stored document with `model` (after a model change or a damaged vector file).

    store: a postgresql:// URL (also ARCHIVE_QA_STORE): its published documents are re-embedded, with their
    passages, and published as a new generation (a server keeps no damaged files to rebuild around).
    """
    url = store_url(store)
    if url is not None:
        writer = open_writer(None, url)
        with writer.lock():
            documents = [locate(doc) for _, doc, _ in open_store(None, url).iter_documents()]
            report = IngestReport(total=len(documents))
            embedded = _embed(documents, None, {}, model, device, batch_size, progress, report)
            writer.publish(documents, embedded.vectors, model, index_kind, embedded.passages, embedded.passage_vectors)
        return report
    index_dir = Path(index_dir)
    with writer_lock(index_dir):
        documents = [locate(doc) for doc in stored_documents(index_dir)]
        report = IngestReport(total=len(documents))
        embedded = _embed(documents, None, {}, model, device, batch_size, progress, report)
        write_generation(index_dir, documents, embedded.vectors, model, index_kind, embedded.passages,
                         embedded.passage_vectors)
    return report


def _apply(index_dir: Path, model: str, incoming: list[Document], remove_ids: list[str], report: IngestReport,
           device: str, batch_size: int, index_kind: str, progress: bool | None, sync: bool = False,
           with_passages: bool | None = None, store: str | None = None) -> IngestReport:
    """Merge changes into the current generation under the writer lock and publish the result."""
    writer = open_writer(index_dir, store)
    with writer.lock():
        try:
            old = open_store(index_dir, store, model)
        except IndexMissingError:
            old = None
        merged: dict[str, Document] = {}
        old_keys: dict[str, tuple[int, str]] = {}  # id => (row, embed_key)
        if old is not None:
            for row, doc, key in old.iter_documents():
                merged[doc.id] = doc
                old_keys[doc.id] = (row, key)
        if sync:
            incoming_ids = {doc.id for doc in incoming}
            remove_ids = [doc_id for doc_id in merged if doc_id not in incoming_ids]
        for doc_id in remove_ids:
            if merged.pop(doc_id, None) is None:
                report.errors.append(RecordError("remove", f"no document with id {doc_id!r}"))
            else:
                report.removed += 1
        for doc in incoming:
            if doc.id in merged:
                report.replaced += 1
            else:
                report.added += 1
            merged[doc.id] = doc
        documents = [locate(doc) for doc in merged.values()]  # places and regions, once per document
        embedded = _embed(documents, old, old_keys, model, device, batch_size, progress, report, with_passages)
        if not documents:
            raise IndexMismatchError("removing these ids would leave the index empty; delete the index directory instead")
        writer.publish(documents, embedded.vectors, model, index_kind, embedded.passages, embedded.passage_vectors)
        report.total = len(documents)
        return report


@dataclass
class Embedded:
    """A generation's vectors: documents' (row-aligned) and their passages' (document row order, then text order)."""

    vectors: np.ndarray
    passages: dict[int, list[Passage]]
    passage_vectors: np.ndarray | None


def _embed(documents: list[Document], old: StoreReader | None, old_keys: dict[str, tuple[int, str]], model: str,
           device: str, batch_size: int, progress: bool | None, report: IngestReport,
           with_passages: bool | None = None) -> Embedded:
    """Vectors of the documents and of their passages: reused where the text is unchanged, embedded otherwise.

    Summaries and passages that need a vector go to the encoder together, in its length-sorted batches.
    """
    with_passages = settings.get("passages") if with_passages is None else with_passages
    reuse: list[tuple[int, int]] = []  # (new row, old row)
    fresh: list[int] = []
    for row, doc in enumerate(documents):
        previous = old_keys.get(doc.id)
        if previous is not None and previous[1] == doc.embedding_key():
            reuse.append((row, previous[0]))
        else:
            fresh.append(row)
    passages = {row: found for row, doc in enumerate(documents) if with_passages and (found := split(doc.text))}
    old_passages = old.passage_keys() if old is not None and passages else {}
    old_passage_vectors = old.passage_vectors() if old_passages else None
    ordered = [(row, passage) for row in sorted(passages) for passage in passages[row]]
    passage_reuse = [(n, old_passages[p.key]) for n, (_, p) in enumerate(ordered) if p.key in old_passages]
    passage_fresh = [n for n, (_, p) in enumerate(ordered) if p.key not in old_passages]
    report.embedded, report.passages_embedded, report.passages = len(fresh), len(passage_fresh), len(ordered)
    texts = [documents[i].embedding_text() for i in fresh] + [
        documents[ordered[n][0]].text[ordered[n][1].start:ordered[n][1].end] for n in passage_fresh]
    dimension = old.vectors_of([0]).shape[1] if old is not None and old.count() else None
    encoded = None
    if texts:
        embedder = get_embedder(model, device, batch_size)
        log.info("embedding %d document(s) and %d passage(s) with %s", len(fresh), len(passage_fresh), model)
        unique = list(dict.fromkeys(texts))  # archives repeat records; embed each text once
        vectors_of_unique = embedder.encode_documents(unique, progress)
        slot = {text: n for n, text in enumerate(unique)}
        encoded = vectors_of_unique[[slot[text] for text in texts]] if len(unique) < len(texts) else vectors_of_unique
        dimension = embedder.dimension
    vectors = np.zeros((len(documents), dimension or 1), dtype=np.float32)
    if reuse:
        new_rows, old_rows = (np.array(x) for x in zip(*reuse))
        vectors[new_rows] = old.vectors_of(old_rows)
    if fresh:
        vectors[np.array(fresh)] = encoded[:len(fresh)]
    passage_vectors = None
    if ordered:
        passage_vectors = np.zeros((len(ordered), vectors.shape[1]), dtype=np.float16)
        if passage_reuse:
            new_rows, old_rows = (np.array(x) for x in zip(*passage_reuse))
            passage_vectors[new_rows] = old_passage_vectors[old_rows]
        if passage_fresh:
            passage_vectors[np.array(passage_fresh)] = encoded[len(fresh):]
    return Embedded(vectors, passages, passage_vectors)
