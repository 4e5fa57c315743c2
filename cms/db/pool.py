"""The process's connection pool, the request's connection and transaction()."""

from __future__ import annotations

import atexit
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool

from cms.db.migrations import StartupError, check_database
from cms.db.session import connection_kwargs, redact


def open_pool(settings) -> ConnectionPool:
    """Open the process's pool and check that the database is reachable and migrated."""
    check_database(settings)
    pool = ConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        kwargs=connection_kwargs(settings),
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
