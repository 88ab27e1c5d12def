"""The local PostgreSQL pair (`make postgres`): a primary, a streaming replica, and nothing left after stop."""

from __future__ import annotations

import time

import pytest

from archive_qa.store import pgserver

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.postgres

LAG_BOUND_S = 5.0  # a row committed on the primary is readable on the replica within this


def test_replica_reads_what_the_primary_commits_within_the_bound(pg_cluster: pgserver.Cluster) -> None:
    with psycopg.connect(pg_cluster.url, autocommit=True) as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS lag_probe (id int PRIMARY KEY, at timestamptz)")
        primary.execute("INSERT INTO lag_probe VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = now()")
        written = primary.execute("SELECT at FROM lag_probe WHERE id = 1").fetchone()[0]
    started = time.monotonic()
    with psycopg.connect(pg_cluster.replica_url, autocommit=True) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        while True:
            row = replica.execute("SELECT at FROM lag_probe WHERE id = 1").fetchone() \
                if replica.execute("SELECT to_regclass('lag_probe')").fetchone()[0] else None
            if row is not None and row[0] == written:
                break
            assert time.monotonic() - started < LAG_BOUND_S, "the replica did not catch up within the bound"
            time.sleep(0.05)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            replica.execute("INSERT INTO lag_probe VALUES (2, now())")


def test_pgvector_is_available(pg_cluster: pgserver.Cluster) -> None:
    with psycopg.connect(pg_cluster.url, autocommit=True) as primary:
        primary.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = primary.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)


def test_stop_leaves_no_server_and_start_again_keeps_the_data(tmp_path, monkeypatch) -> None:
    from conftest import free_port

    monkeypatch.chdir(tmp_path)  # a relative --root, as `make postgres` and `make postgres-stop` pass it
    ports = [str(free_port()), str(free_port())]
    if pgserver.main(["start", "--root", "pg", "--port", ports[0], "--replica-port", ports[1]]):
        pytest.skip("local PostgreSQL could not start (its log is under pg/)")
    cluster = pgserver.Cluster(tmp_path / "pg", int(ports[0]), int(ports[1]))
    try:
        with psycopg.connect(cluster.url, autocommit=True) as primary:
            primary.execute("CREATE TABLE kept (n int)")
            primary.execute("INSERT INTO kept VALUES (7)")
    finally:
        assert pgserver.main(["stop", "--root", "pg"]) == 0
    assert not pgserver.running(cluster.primary_dir) and not pgserver.running(cluster.replica_dir)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cluster.url, connect_timeout=2)
    cluster = pgserver.start(cluster, replica=False)
    try:
        with psycopg.connect(cluster.url) as primary:
            assert primary.execute("SELECT n FROM kept").fetchone() == (7,)
    finally:
        pgserver.stop(cluster)
