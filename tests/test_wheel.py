"""A wheel built from the checkout, installed into a fresh venv and run from a directory outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port

SEED = ROOT / "data" / "seed_mao_stalin.jsonl"


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    """Run a command to completion; its stdout, or a failure showing what it printed."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{command} -> {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """(venv bin/, a working directory outside the checkout, the environment) with the wheel installed.

    The venv reads the test environment's site-packages through a .pth line (as a plain path: its .pth files,
    the editable install's among them, are not run), so the dependencies are reused, not downloaded again.
    """
    home = tmp_path_factory.mktemp("wheel")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ARCHIVE_QA_", "PYTHON"))}
    env.update(HF_HUB_OFFLINE="1", PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(home / "dist"),
         str(ROOT)], cwd=home, env=env)
    wheel = next((home / "dist").glob("archive_qa-*.whl"))
    target = home / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    bin_dir = target / "bin"
    new_site = Path(run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=home, env=env).strip())
    (new_site / "reused-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--no-deps", "--no-index",
         "-q", str(wheel)], cwd=home, env=env)
    work = home / "elsewhere"
    work.mkdir()
    shutil.copy(SEED, work / "collection.jsonl")
    yield bin_dir, work, env


def test_the_package_runs_from_the_wheel_not_the_checkout(installed) -> None:
    bin_dir, work, env = installed
    where = run([str(bin_dir / "python"), "-c", "import archive_qa; print(archive_qa.__file__)"], work, env).strip()
    assert str(bin_dir.parent) in where and str(ROOT) not in where


def test_ingest_serve_pages_and_mcp_outside_the_checkout(installed) -> None:
    bin_dir, work, env = installed
    cli = str(bin_dir / "archive-qa")
    assert "10 added" in run([cli, "ingest", "collection.jsonl", "--index", "idx"], work, env)
    port = free_port()
    server = subprocess.Popen([cli, "serve", "--index", "idx", "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.stderr else ""
            time.sleep(0.25)
        home = httpx.get(f"{base}/", params={"q": "what did Stalin say about neutral countries?"}, timeout=60)
        assert home.status_code == 200 and "<form" in home.text and "seed-03" in home.text  # templates shipped
        page = httpx.get(f"{base}/documents/seed-03", timeout=30)
        assert page.status_code == 200 and "neutral countries" in page.text
        assert httpx.get(f"{base}/static/style.css", timeout=30).status_code == 200  # static files shipped
        person = httpx.get(f"{base}/api/people/Filippov", timeout=30).json()
        assert person["name"] == "Joseph Stalin" and person["born"] == 1879  # data/people.json shipped
    finally:
        server.terminate()
        server.wait(timeout=30)

    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "wheel-test", "version": "1"}}}
    messages = [initialize, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    mcp = subprocess.Popen([cli, "mcp", "--index", "idx"], cwd=work, env=env, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    replies: list[dict] = []
    try:
        assert mcp.stdin and mcp.stdout
        for message in messages:
            mcp.stdin.write(json.dumps(message) + "\n")
            mcp.stdin.flush()
        reader = threading.Thread(target=lambda: replies.extend(json.loads(mcp.stdout.readline()) for _ in range(2)),
                                  daemon=True)
        reader.start()
        reader.join(timeout=120)
    finally:
        mcp.kill()
        mcp.wait(timeout=30)
    assert len(replies) == 2, "archive-qa mcp did not answer initialize and tools/list within 120 s"
    assert replies[0]["result"]["serverInfo"]["name"] == "archive_qa"
    assert {"search", "ask", "get_document", "cite", "people"} <= {t["name"] for t in replies[1]["result"]["tools"]}
