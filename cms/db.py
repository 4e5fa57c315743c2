"""The connection pool, transaction helpers and database CLI commands."""

from __future__ import annotations

import atexit
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from flask import Flask, current_app, g
from psycopg.rows import dict_row, tuple_row
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from cms.sql import Query, query

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "sql" / "migrations"
SEED_FILE = ROOT / "seed.sql"

LATEST_MIGRATION = query("latest_migration")
SERVER_VERSION = query("server_version")


class StartupError(Exception):
    """The service cannot start (database unreachable, schema not migrated)."""


def latest_migration_file_version() -> str:
    """Version prefix of the newest file in sql/migrations (e.g. '0009')."""
    versions = sorted(p.name.split("_", 1)[0] for p in MIGRATIONS_DIR.glob("[0-9]*_*.sql"))
    return versions[-1] if versions else ""


def open_pool(settings) -> ConnectionPool:
    """Open the process's pool and check that the database is reachable and migrated."""
    check_database(settings)
    # jit=off: the list queries' estimated cost at a million cars passes jit_above_cost, and
    # compiling costs 15-25 ms per execution for queries that run in a few. No parallel
    # workers: on a few cores shared with the web workers they only add latency, and the
    # list query's skipped branches would still start them (bench/proposals/README.md).
    # random_page_cost 1.1 (the usual value for SSDs and cached data, instead of 4 for spinning
    # disks): with 4 the planner prefers walking cars_created_at_idx, whose rows lie in table
    # order, over a brand's own index, and reads ~900 cars instead of ~50 for a brand's page.
    # DateStyle ISO: fetch_rows(timestamps_as_text=True) relies on its format.
    options = (f"-c timezone=UTC -c datestyle=ISO -c statement_timeout={settings.statement_timeout_ms}"
               " -c jit=off -c max_parallel_workers_per_gather=0 -c random_page_cost=1.1")
    pool = ConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "options": options,
            "connect_timeout": max(1, int(settings.pool_timeout)),
        },
        configure=_mark_idle,
        reset=_mark_idle,
        check=check_borrowed_connection,
        reconnect_timeout=0,
        name="cms",
        open=False,
    )
    try:
        pool.open(wait=settings.pool_min_size > 0, timeout=settings.pool_timeout)
    except Exception as error:  # noqa: BLE001 - any failure here means "cannot start"
        pool.close()
        raise StartupError(f"cannot reach the database at {redact(settings.database_url)}: {error}".strip()) from None
    return pool


# A borrowed connection gets a round trip to the server (psycopg_pool's check_connection)
# only when it may be dead: it sat unused for more than this long, or the server already
# sent it something (a restart or pg_terminate_backend closes the socket, which makes it
# readable). Otherwise the check costs one poll() system call instead of a round trip.
IDLE_CHECK_SECONDS = 2.0
_IDLE_SINCE = "_cms_idle_since"


def _mark_idle(conn: psycopg.Connection) -> None:
    """Pool callback (configure and reset): remember when the connection started waiting in the pool."""
    setattr(conn, _IDLE_SINCE, time.monotonic())


def _socket_has_news(conn: psycopg.Connection) -> bool:
    """True when the idle connection's socket is readable: an error, a notice or EOF is waiting."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def check_borrowed_connection(conn: psycopg.Connection) -> None:
    """The pool's `check`: raise when the connection is not usable (the pool then replaces it).

    As safe as ConnectionPool.check_connection after a PostgreSQL restart (a closed socket is
    readable, so it gets the full check), without a round trip on every borrow.
    """
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    idle_since = getattr(conn, _IDLE_SINCE, 0.0)
    if time.monotonic() - idle_since > IDLE_CHECK_SECONDS or _socket_has_news(conn):
        ConnectionPool.check_connection(conn)


def check_database(settings) -> None:
    """Raise StartupError (one line saying why) unless the database answers and is fully migrated.

    A single direct connection rather than the pool: it fails at once with libpq's own
    reason (refused, unknown database, bad password) instead of a pool timeout.
    """
    try:
        with psycopg.connect(
            settings.database_url, autocommit=True, row_factory=dict_row,
            connect_timeout=max(1, int(settings.pool_timeout)),
        ) as conn:
            row = fetch_one(conn, LATEST_MIGRATION)
    except psycopg.errors.UndefinedTable:
        raise StartupError(
            "the database has no schema_migrations table: run the migrations first (cms db up)"
        ) from None
    except psycopg.Error as error:
        reason = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        raise StartupError(f"cannot reach the database at {redact(settings.database_url)}: {reason}") from None
    expected = latest_migration_file_version()
    applied = row["version"] if row else None
    if applied != expected:
        raise StartupError(
            f"the database schema is at migration {applied or 'none'} but this release needs {expected}: "
            "run the migrations (cms db up)"
        )


def redact(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def dbmate_url(database_url: str) -> str:
    """dbmate's spelling of a libpq URL: postgres:// scheme, socket= for a socket dir, sslmode set."""
    parts = urlsplit(database_url)
    params = dict(parse_qsl(parts.query))
    host = params.pop("host", "")
    if host.startswith("/"):
        params["socket"] = host
    params.setdefault("sslmode", "disable")
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(params), ""))


def run_dbmate(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run dbmate against the migrations of this repository."""
    binary = Path(sys.executable).parent / "dbmate"
    command = [
        str(binary if binary.exists() else "dbmate"),
        "--url", dbmate_url(database_url),
        "--migrations-dir", str(MIGRATIONS_DIR),
        "--no-dump-schema",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(command, check=check, env=env, capture_output=True, text=True)


def run_seed(database_url: str) -> subprocess.CompletedProcess:
    """Load seed.sql with psql, stopping at the first error."""
    return subprocess.run(
        ["psql", database_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(SEED_FILE)],
        check=True, capture_output=True, text=True,
    )


# --- helpers used by every repository ---------------------------------------------

def fetch_one(conn: psycopg.Connection, q: Query, params: dict | None = None) -> dict | None:
    """First row of the query as a dict, or None."""
    return conn.execute(q.sql, params or {}).fetchone()


def fetch_all(conn: psycopg.Connection, q: Query, params: dict | None = None) -> list[dict]:
    """Every row of the query as dicts."""
    return conn.execute(q.sql, params or {}).fetchall()


def fetch_rows(conn: psycopg.Connection, q: Query, params: dict | None = None, *,
               timestamps_as_text: bool = False) -> tuple[list[str], Iterator[tuple]]:
    """The column names and the rows as tuples, converted a batch at a time as they are reached:
    for big results (no dict per row, no list of every row).

    timestamps_as_text: `timestamp` columns stay PostgreSQL's text ('2026-03-04 05:06:07.891234',
    the session's DateStyle is ISO), for callers that print them anyway.
    """
    cursor = conn.cursor(row_factory=tuple_row)
    if timestamps_as_text:
        cursor.adapters.register_loader("timestamp", TextLoader)
    cursor.execute(q.sql, params or {})
    return [column.name for column in cursor.description or ()], _batches(cursor)


def _batches(cursor: psycopg.Cursor, size: int = 500) -> Iterator[tuple]:
    with cursor:  # closing it frees libpq's copy of the result as soon as the last row is read
        while rows := cursor.fetchmany(size):
            yield from rows


def fetch_value(conn: psycopg.Connection, q: Query, params: dict | None = None) -> Any:
    """First column of the first row, or None."""
    row = conn.execute(q.sql, params or {}).fetchone()
    return next(iter(row.values())) if row else None


def execute(conn: psycopg.Connection, q: Query, params: dict | None = None) -> int:
    """Run a statement; returns the number of rows it touched."""
    return conn.execute(q.sql, params or {}).rowcount


# --- per-request connection --------------------------------------------------------

def get_pool() -> ConnectionPool:
    return current_app.extensions["cms.pool"]


def connection() -> psycopg.Connection:
    """The request's connection (autocommit; borrowed once, returned at teardown)."""
    if "db_conn" not in g:
        g.db_conn = get_pool().getconn()
    return g.db_conn


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """An explicit transaction on the request's connection: commit on success, roll back on error."""
    conn = connection()
    with conn.transaction():
        yield conn


def _return_connection(_exc: BaseException | None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        get_pool().putconn(conn)


def init_app(app: Flask, pool: ConnectionPool) -> None:
    """Attach the pool to the app, return connections after each request, close the pool at exit."""
    app.extensions["cms.pool"] = pool
    app.teardown_appcontext(_return_connection)
    atexit.register(pool.close)


def server_version(conn: psycopg.Connection) -> str:
    return fetch_value(conn, SERVER_VERSION)


def applied_migration(conn: psycopg.Connection) -> str | None:
    row = fetch_one(conn, LATEST_MIGRATION)
    return row["version"] if row else None


__all__ = [
    "StartupError", "open_pool", "fetch_one", "fetch_all", "fetch_rows", "fetch_value", "execute",
    "connection", "transaction", "init_app", "run_dbmate", "run_seed", "dbmate_url",
]
