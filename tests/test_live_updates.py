"""Live updates: a real server keeps answering, from whole generations only, while ingests publish new ones.

The tests taking `seed_on` run on both stores (`store_kind`, conftest). The others are about generation
directories and CURRENT on disk (a damaged generation, the grace period, workers reading CURRENT), embedded only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from archive_qa.api.app import create_app
from archive_qa.indexing import ingest
from archive_qa.store.layout import CURRENT, GENERATIONS, current_generation
from conftest import MODEL, ROOT, Collection, LiveServer, write_jsonl

QUESTIONS = ["what did Stalin say about neutral countries?", "armistice talks at Kaesong", "Formosa",
             "prisoners of war exchange"]
REMOVED = {"live0-0", "live0-1"}


class Traffic:
    """Clients that search, fetch documents and read stats in a loop, recording every answer."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url = url
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.seen: list[tuple[float, str, int]] = []  # (time, generation, documents) from /api/stats
        self.requests = 0
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _loop(self, number: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                question = QUESTIONS[self.requests % len(QUESTIONS)]
                try:
                    found = client.get("/api/search", params={"q": question, "k": 5})
                    self._expect(found, "search")
                    for result in found.json()["results"]:
                        # every id a search returns resolves (a removed one may be gone by the next request)
                        shown = client.get(f"/api/documents/{result['id']}")
                        if not (shown.status_code == 404 and result["id"] in REMOVED):
                            self._expect(shown, f"document {result['id']}")
                    stats = client.get("/api/stats")
                    self._expect(stats, "stats")
                    body = stats.json()
                    self.seen.append((time.monotonic(), body["generation"], body["documents"]))
                except httpx.HTTPError as error:
                    self.failures.append(f"client {number}: {error!r}")
                self.requests += 1

    def _expect(self, response: httpx.Response, what: str) -> None:
        if response.status_code != 200:
            self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")

    def wait_for(self, generation: str, timeout: float = 20) -> None:
        """Until some client has seen `generation` served."""
        deadline = time.monotonic() + timeout
        while not any(seen[1] == generation for seen in self.seen[-20:]):
            assert time.monotonic() < deadline, f"the server never switched to {generation}"
            time.sleep(0.05)


def batch(tmp_path: Path, tag: str, count: int = 5) -> Path:
    """A small collection of new documents."""
    return write_jsonl(tmp_path / f"{tag}.jsonl", [
        {"id": f"{tag}-{i}", "date": "1952-03-0" + str(1 + i), "title": f"{tag} telegram {i}",
         "summary": f"The {tag} delegation reports on the armistice talks and prisoners of war, item {i}."}
        for i in range(count)])


def test_searches_never_fail_while_ingests_publish(seed_on: Collection, tmp_path: Path, embedder) -> None:
    totals = [10]
    published = {seed_on.generation()}  # every generation published while the clients ran
    with LiveServer(seed_on.app()) as server, Traffic(server.url) as traffic:
        traffic.wait_for(seed_on.generation())  # the first generation served before the first publish
        for number in range(3):  # in-process ingests, fast: the model is already loaded
            totals.append(seed_on.ingest([batch(tmp_path, f"live{number}")]).total)
            published.add(seed_on.generation())
            traffic.wait_for(seed_on.generation())
        totals.append(seed_on.remove(sorted(REMOVED)).total)
        published.add(seed_on.generation())
        traffic.wait_for(seed_on.generation())
        result = subprocess.run(  # and an ingest from another process, as a user would run it
            [sys.executable, "-m", "archive_qa.cli", "ingest", str(batch(tmp_path, "other")), *seed_on.args()],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert result.returncode == 0, result.stderr
        totals.append(totals[-1] + 5)
        published.add(seed_on.generation())
        traffic.wait_for(seed_on.generation())
        time.sleep(0.3)
    assert traffic.failures == []
    assert traffic.requests > 50
    if seed_on.url is None:
        assert published == {p.name for p in (seed_on.index / GENERATIONS).iterdir() if not p.name.startswith(".")}
    generations_seen = [generation for _, generation, _ in traffic.seen]
    assert set(generations_seen) <= published  # never an unfinished generation
    assert len(set(generations_seen)) == 6  # the first and every one published after it
    first_seen: dict[str, int] = {}  # generation => documents, in the order the clients first met them
    for _, generation, documents in sorted(traffic.seen):
        first_seen.setdefault(generation, documents)
    assert list(first_seen.values()) == totals


def test_a_damaged_new_generation_does_not_take_the_server_down(seed_copy: Path, tmp_path: Path, embedder) -> None:
    with LiveServer(create_app(seed_copy)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        good = current_generation(seed_copy).name
        broken = seed_copy / GENERATIONS / "29990101T000000.000000000-1"
        shutil.copytree(seed_copy / GENERATIONS / good, broken)
        (broken / "vectors.faiss").write_bytes(b"truncated")
        (seed_copy / f"{CURRENT}.new").write_text(broken.name)
        os.replace(seed_copy / f"{CURRENT}.new", seed_copy / CURRENT)
        for _ in range(3):
            response = client.get("/api/search", params={"q": "neutral countries", "k": 3})
            assert response.status_code == 200
            assert response.json()["results"][0]["id"] == "seed-03"
            assert client.get("/api/stats").json()["generation"] == good
        shutil.rmtree(broken)
        (seed_copy / CURRENT).write_text(good)  # a repair (here by hand; `archive-qa reindex` does the same)
        ingest(seed_copy, [batch(tmp_path, "after")], MODEL, progress=False)
        stats = client.get("/api/stats").json()
        assert stats["documents"] == 15 and stats["generation"] == current_generation(seed_copy).name


def test_concurrent_ingests_take_turns_and_both_land(seed_on: Collection, tmp_path: Path, embedder) -> None:
    """The writer lock serialises ingests; the second merges with what the first published."""
    errors: list[BaseException] = []

    def run(tag: str) -> None:
        try:
            seed_on.ingest([batch(tmp_path, tag)])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    store = seed_on.store()
    assert store.count() == 20
    assert set(store.documents([f"{tag}-{i}" for tag in ("left", "right") for i in range(5)])) == {
        f"{tag}-{i}" for tag in ("left", "right") for i in range(5)}


def test_old_generations_stay_for_a_grace_period_then_go(seed_copy: Path, tmp_path: Path, embedder) -> None:
    from archive_qa.store.layout import collect_garbage

    for number in range(3):
        ingest(seed_copy, [batch(tmp_path, f"gc{number}")], MODEL, progress=False)
    finished = sorted(p.name for p in (seed_copy / GENERATIONS).iterdir())
    assert len(finished) == 4  # superseded seconds ago: a server may still be reading them
    collect_garbage(seed_copy, keep=2, grace_s=0)
    assert sorted(p.name for p in (seed_copy / GENERATIONS).iterdir()) == finished[-2:]
    assert finished[-1] == current_generation(seed_copy).name


def test_every_worker_of_archive_qa_serve_switches_without_restart(seed_copy: Path, tmp_path: Path,
                                                                    embedder) -> None:
    """`archive-qa serve --workers 2`: separate processes, each following CURRENT on its own."""
    from conftest import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "archive_qa.cli", "serve", "--index", str(seed_copy), "--port", str(port),
         "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "archive-qa serve did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        with Traffic(url, clients=4) as traffic:
            time.sleep(1)
            total = ingest(seed_copy, [batch(tmp_path, "workers")], MODEL, progress=False).total
            traffic.wait_for(current_generation(seed_copy).name)
            time.sleep(1)
            recent = time.monotonic() - 0.5
        assert traffic.failures == []
        # fresh connections (one client per request) land on both workers; none still serves the old index
        answers = {httpx.get(f"{url}/api/stats", headers={"Connection": "close"}, timeout=30).json()["documents"]
                   for _ in range(20)}
        assert answers == {total} == {c for t, _, c in traffic.seen if t > recent}
    finally:
        server.terminate()
        server.wait(timeout=30)
