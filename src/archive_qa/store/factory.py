"""Opening a store: an index directory (the embedded default) or a server URL (`--store`, ARCHIVE_QA_STORE)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .base import StoreReader, StoreWriter
from .layout import IndexError_

SCHEMES = ("postgresql://", "postgres://")


def store_url(url: str | None = None) -> str | None:
    """The server URL given, else ARCHIVE_QA_STORE, else None (the embedded store)."""
    url = url or os.environ.get("ARCHIVE_QA_STORE") or None
    if url is not None and not url.startswith(SCHEMES):
        raise IndexError_(f"--store / ARCHIVE_QA_STORE: {url!r} is not a postgresql:// URL; give one, or leave it "
                          "unset and use --index DIR for the embedded store")
    return url


def replica_urls(replicas: Sequence[str] = ()) -> list[str]:
    """The replicas given, else ARCHIVE_QA_READ_REPLICA's comma-separated URLs (none when unset)."""
    return list(replicas) or [r.strip() for r in os.environ.get("ARCHIVE_QA_READ_REPLICA", "").split(",")
                              if r.strip()]


def open_store(index_dir: str | Path | None = None, url: str | None = None, model: str | None = None,
               replicas: Sequence[str] = ()) -> StoreReader:
    """The current generation of the store named by `url` (or ARCHIVE_QA_STORE), else of `index_dir`.

    With a server, reads go to `replicas` (ARCHIVE_QA_READ_REPLICA, comma-separated, when none are given)
    and fall back to the primary `url` when none answers.
    """
    url = store_url(url)
    if url is not None:
        from .postgres import PostgresStore  # psycopg is needed only for a server

        return PostgresStore.open(url, model, replica_urls(replicas))
    if index_dir is None:
        raise IndexError_("no store given; pass --index DIR (embedded) or --store postgresql://…")
    from .store import Store

    return Store.open(index_dir, model)


def open_writer(index_dir: str | Path | None = None, url: str | None = None) -> StoreWriter:
    """A writer for the store named by `url` (or ARCHIVE_QA_STORE), else for `index_dir`."""
    url = store_url(url)
    if url is not None:
        from .postgres import PostgresWriter

        return PostgresWriter(url)
    if index_dir is None:
        raise IndexError_("no store given; pass --index DIR (embedded) or --store postgresql://…")
    from .store import EmbeddedWriter

    return EmbeddedWriter(index_dir)


def copy_store(source: StoreReader, writer: StoreWriter, index_kind: str = "auto") -> str:
    """Publish `source`'s documents, vectors, passages and passage vectors as they are through `writer`.

    Nothing is embedded: a copy of an index directory into a server (or back) answers as the original does.
    Returns the new generation's id.
    """
    from ..passages import Passage, passage_key

    documents = [doc for _, doc, _ in source.iter_documents()]
    spans = source.passages_of(range(len(documents)))
    passages = {row: [Passage(start, end, passage_key((documents[row].text or "")[start:end]))
                      for _, start, end in found] for row, found in spans.items() if found}
    passage_vectors = source.passage_vectors() if passages else None
    with writer.lock():
        return writer.publish(documents, source.vectors_of(range(len(documents))), source.model, index_kind,
                              passages, passage_vectors)
