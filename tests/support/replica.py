"""A private PostgreSQL primary with a streaming replica, for tests.

Both run from one temporary directory on free 127.0.0.1 ports, as the `postgres` system user when
the tests run as root (PostgreSQL refuses root): `initdb -A trust` (whose pg_hba.conf already
trusts replication connections from 127.0.0.1), the primary started, then
`pg_basebackup -R -X stream` from it and the copy started as a hot standby. Start it once per test
module (a pair takes ~2 s to build); `stop_replica()` / `start_replica()` simulate a replica that
goes away and comes back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from cms import db
from support.pgbouncer import free_port, missing_tool, run_as_postgres


def postgres_bin_dir() -> Path:
    """PG_BIN, else Debian's PostgreSQL 15, else the directory of `pg_ctl` on PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    debian = Path("/usr/lib/postgresql/15/bin")
    if (debian / "pg_ctl").exists():
        return debian
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else debian


def pair_or_skip() -> StreamingPair:
    """A built pair, or skip (fail under CI) with a printed reason when PostgreSQL's server tools are missing."""
    bin_dir = postgres_bin_dir()
    missing = [tool for tool in ("initdb", "pg_ctl", "pg_basebackup") if not (bin_dir / tool).exists()]
    if missing:
        missing_tool(f"PostgreSQL server tools missing from {bin_dir}: {', '.join(missing)} (set PG_BIN)")
    pair = StreamingPair()
    try:
        return pair.build()
    except BaseException:
        pair.remove()
        raise


@contextmanager
def migrated_pair() -> Iterator[StreamingPair]:
    """A built pair whose `cms` database is migrated and replayed on the replica; removed after use."""
    streaming = pair_or_skip()
    try:
        db.run_dbmate(streaming.primary.url(), "up")
        streaming.wait_for_replay()
        yield streaming
    finally:
        streaming.remove()


def private_primary_fixtures():
    """The module-scoped fixtures of a test module that runs on a migrated pair of its own:
    `pair`, and `database_url` naming its primary (conftest's factories and table cleaning use it).
    In the module: `pair, database_url = private_primary_fixtures()`."""

    @pytest.fixture(scope="module")
    def pair():
        with migrated_pair() as streaming:
            yield streaming

    @pytest.fixture(scope="module")
    def database_url(pair):
        return pair.primary.url()

    return pair, database_url


class Node:
    """One server of the pair: its data directory and port."""

    def __init__(self, pair: StreamingPair, name: str):
        self.pair = pair
        self.data = pair.base / name
        self.port = free_port()

    def url(self, database: str = "cms") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.pair.base} -c fsync=off"
                   " -c hot_standby_feedback=on -c max_connections=60")
        self.pair.run("pg_ctl", "-D", self.data, "-o", options, "-l", f"{self.data}.log", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self.pair.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log(self) -> str:
        path = Path(f"{self.data}.log")
        return path.read_text(errors="replace") if path.exists() else ""


class StreamingPair:
    """primary + replica; build() makes and starts both, remove() stops them and deletes everything."""

    def __init__(self):
        self.bin = postgres_bin_dir()
        self.base = Path(tempfile.mkdtemp(prefix="cms-replica-"))
        if run_as_postgres():
            shutil.chown(self.base, "postgres", "postgres")
        self.primary = Node(self, "primary")
        self.replica = Node(self, "replica")

    def run(self, tool: str, *args) -> None:
        subprocess.run([*run_as_postgres(), str(self.bin / tool), *map(str, args)], cwd=self.base,
                       check=True, capture_output=True, text=True, timeout=120)

    def build(self, database: str = "cms") -> StreamingPair:
        """initdb + start the primary, create `database`, clone it with pg_basebackup -R, start the replica."""
        self.run("initdb", "-D", self.primary.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.primary.start()
        with psycopg.connect(self.primary.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", self.primary.port, "-U", "postgres",
                 "-D", self.replica.data, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast")
        self.replica.start()
        return self

    def start_replica(self) -> None:
        if not self.replica.is_running():
            self.replica.start()

    def wait_for_streaming(self, timeout: float = 30.0) -> None:
        """Until the replica's WAL receiver streams from the primary. A replica just started replays
        its own WAL first and connects after; a failed attempt is retried only every
        wal_retrieve_retry_interval (5 s), which on a loaded machine outlasted wait_for_replay."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica.url("postgres"), autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
                if row is not None and row[0] == "streaming":
                    return
                time.sleep(0.05)
        raise TimeoutError(f"the replica's WAL receiver did not stream within {timeout} s")

    def wait_for_replay(self, timeout: float = 10.0) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary.url("postgres"), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica.url("postgres"), autocommit=True) as conn:
            while time.monotonic() < deadline:
                if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                    return
                time.sleep(0.02)
        raise TimeoutError(f"the replica did not replay {target} within {timeout} s")

    def remove(self) -> None:
        for node in (self.replica, self.primary):
            try:
                node.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


def commits(node: Node, database: str = "cms") -> int:
    """pg_stat_database.xact_commit of `database` on that server (the transactions it ran), read from
    the `postgres` database so that reading it adds none."""
    with psycopg.connect(node.url("postgres"), autocommit=True) as conn:
        # Statistics are cached for the rest of a transaction; autocommit reads them fresh.
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()[0]


def client_backends(node: Node, database: str = "cms") -> int:
    """How many client connections `database` on that server has now."""
    with psycopg.connect(node.url("postgres"), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (database,),
        ).fetchone()[0]
