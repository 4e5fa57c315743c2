"""Which PostgreSQL server the tests run on: the same rule as `make run`.

- TEST_DATABASE_ADMIN_URL when set (CI and this module's own hand-over to xdist workers);
- else the server on 127.0.0.1:5432 when one answers (the machine's server, as CI uses);
- else an embedded PostgreSQL (PyPI pgserver, PostgreSQL 16) started for this test run in a
  temporary directory, listening on a free 127.0.0.1 port, stopped at the end. Its own client
  programs (psql, pg_dump, pg_restore) go first on PATH, since pg_dump refuses a newer server.

The first process that imports this (pytest itself, before xdist starts its workers) decides and
exports TEST_DATABASE_ADMIN_URL and TEST_DATABASE_SERVER; the workers inherit both.
"""

from __future__ import annotations

import atexit
import getpass
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

import psycopg

MACHINE_URL = f"postgresql://{getpass.getuser()}@127.0.0.1:5432/postgres"
EMBEDDED = "embedded"


def _answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_embedded() -> str:
    """pgserver initialises the cluster (as its own system user when we are root) and starts it on a
    Unix socket only; it is restarted once with a TCP port, which every test and tool here expects."""
    base = Path(tempfile.mkdtemp(prefix="cms-test-pg-"))
    # pgserver keeps a lock file there, also after our stop(): one private (0700) folder for every run.
    runtime = Path(tempfile.gettempdir()) / f"cms-test-pg-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver
    from pgserver._commands import POSTGRES_BIN_PATH, pg_ctl

    server = pgserver.get_server(str(base / "pgdata"), cleanup_mode=None)
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {server.pgdata} -c fsync=off -c max_connections=200"
    pg_ctl(["-w", "-o", options, "-l", str(server.pgdata / "server.log"), "restart"],
           pgdata=server.pgdata, user=server.system_user)

    def stop() -> None:
        logging.getLogger("pgserver").disabled = True  # at exit, pytest has closed the streams it logs to
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    os.environ["PATH"] = f"{POSTGRES_BIN_PATH}:{os.environ.get('PATH', '')}"
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def admin_url() -> str:
    """The maintenance-database URL the tests create their databases with (see the module doc)."""
    if os.environ.get("TEST_DATABASE_ADMIN_URL"):
        os.environ.setdefault("TEST_DATABASE_SERVER", os.environ["TEST_DATABASE_ADMIN_URL"])
        return os.environ["TEST_DATABASE_ADMIN_URL"]
    if _answers(MACHINE_URL):
        url, server = MACHINE_URL, "the PostgreSQL server on 127.0.0.1:5432"
    else:
        url = _start_embedded()
        server = f"{EMBEDDED} PostgreSQL 16 (pgserver) at {url}, nothing answers on 127.0.0.1:5432"
    os.environ["TEST_DATABASE_ADMIN_URL"] = url
    os.environ["TEST_DATABASE_SERVER"] = server
    return url


def embedded() -> bool:
    """True when the tests run on the embedded server (no server answered on 127.0.0.1:5432)."""
    return os.environ.get("TEST_DATABASE_SERVER", "").startswith(EMBEDDED)
