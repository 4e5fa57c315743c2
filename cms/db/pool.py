"""The process's connection pool: opened with a check of the database, lending only connections
that pass a cheap check, answering 503 at once while no server accepts connections."""

from __future__ import annotations

import logging
import select
import threading
import time

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from cms.db.migrations import StartupError, check_database
from cms.db.session import connection_kwargs, one_line, redact

log = logging.getLogger(__name__)


def open_pool(settings) -> ConnectionPool:
    """Open the process's pool and check that the database is reachable and migrated."""
    check_database(settings)
    pool = CheckedPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        kwargs=connection_kwargs(settings),
        configure=mark_idle,
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


class CheckedPool(ConnectionPool):
    """The pool, lending only connections that pass check_borrowed_connection, and marking each
    returned connection idle on the returning thread. (A `reset` callback would mark it too, but
    then psycopg_pool hands every returned connection to its worker thread: a thread switch per
    request, and the connection is not free until then.)

    Why getconn is overridden instead of passing `check=` to psycopg_pool: its check loop sleeps
    between failed checks with the back-off of reconnection attempts (0 s, 1 s, 2 s, 4 s...). That
    suits a server that refuses connections, but after a failover, a PgBouncer restart or
    pg_terminate_backend every idle connection fails its check at once, and with four of them a
    request waited the whole pool timeout and answered 503 while the database was up. Here a
    connection that fails its check is closed and given back (the pool discards it and opens a
    replacement in the background) and the next is tried at once; the wait for a connection, and
    so for the replacements, stays bounded by the pool's timeout. A server that is down costs no
    busy loop: its connections are discarded once each, then getconn waits in the pool's queue.
    tests/test_db_pool.py pins it (six dead idle connections, six requests answered 200).
    """

    # While no connection can be opened (every host refuses, or none accepts writes), a request
    # that finds no idle connection fails at once with DatabaseUnreachable (a 503 with Retry-After)
    # instead of waiting the pool's timeout, and a background thread tries to connect every
    # PROBE_SECONDS: the first success ends the state, and the pool grows again on demand.
    # Only documented API: the pool's connections come from `connection_class.connect`, which
    # reports each attempt; a request waits in slices of PROBE_SECONDS so that it notices the state.
    PROBE_SECONDS = 0.25

    def __init__(self, *args, **kwargs):
        self.unreachable: str | None = None  # why the last connection attempt failed, until one succeeds
        self._prober: threading.Thread | None = None
        self._prober_lock = threading.Lock()
        super().__init__(*args, connection_class=_reporting_connection_class(self), **kwargs)

    def connection_failed(self, reason: str) -> None:
        """A connection attempt failed: answer 503 at once, and probe until a server accepts again."""
        if self.unreachable is None:
            log.warning("database unreachable (%s): answering 503 until a connection succeeds", reason)
        self.unreachable = reason
        with self._prober_lock:
            if self._prober is None or not self._prober.is_alive():
                self._prober = threading.Thread(target=self._probe, name=f"{self.name}-probe", daemon=True)
                self._prober.start()

    def connection_succeeded(self) -> None:
        self.unreachable = None

    def _probe(self) -> None:
        while self.unreachable is not None and not self.closed:
            time.sleep(self.PROBE_SECONDS)
            try:
                probe = psycopg.connect(self.conninfo, **self.kwargs)
            except psycopg.Error as error:
                self.unreachable = one_line(error)
                continue
            probe.close()
            log.warning("database reachable again")
            self.unreachable = None

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            if self.unreachable is not None and not self.get_stats().get("pool_available"):
                raise DatabaseUnreachable(self.unreachable)
            remaining = deadline - time.monotonic()
            try:
                conn = super().getconn(timeout=max(min(remaining, self.PROBE_SECONDS), 0.001))
            except PoolTimeout:
                if remaining <= self.PROBE_SECONDS:
                    raise PoolTimeout(f"couldn't get a connection after {timeout:.2f} sec") from None
                continue
            try:
                check_borrowed_connection(conn)
            except psycopg.Error:
                conn.close()  # a closed connection given back is discarded and replaced
                super().putconn(conn)
                continue
            return conn

    def putconn(self, conn: psycopg.Connection) -> None:
        mark_idle(conn)
        super().putconn(conn)


def _reporting_connection_class(pool: CheckedPool) -> type[psycopg.Connection]:
    """The pool's connection class (psycopg_pool's documented `connection_class`): a psycopg
    Connection whose connect() tells the pool whether a server accepted."""

    class ReportingConnection(psycopg.Connection):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs) -> psycopg.Connection:
            try:
                conn = super().connect(conninfo, **kwargs)
            except psycopg.Error as error:
                pool.connection_failed(one_line(error))
                raise
            pool.connection_succeeded()
            return conn

    return ReportingConnection


class DatabaseUnreachable(PoolTimeout):
    """No server accepts a connection (down, or only read-only hosts for a read-write URL); a retry
    in a moment may reach the next primary. A PoolTimeout: it is answered like one (503)."""

    def __init__(self, reason: str):
        super().__init__(f"no database server accepts connections: {reason}")


# A borrowed connection gets a round trip to the server (psycopg_pool's check_connection)
# only when it may be dead: it sat unused for more than this long, or the server already
# sent it something (a restart or pg_terminate_backend closes the socket, which makes it
# readable). Otherwise the check costs one poll() system call instead of a round trip.
IDLE_CHECK_SECONDS = 2.0
_IDLE_SINCE = "_cms_idle_since"


def mark_idle(conn: psycopg.Connection) -> None:
    """Remember when the connection started waiting in the pool (the pool's configure, and putconn)."""
    setattr(conn, _IDLE_SINCE, time.monotonic())


def _socket_has_news(conn: psycopg.Connection) -> bool:
    """True when the idle connection's socket is readable: an error, a notice or EOF is waiting."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def check_borrowed_connection(conn: psycopg.Connection) -> None:
    """The check of each lent connection: raise when it is not usable (the pool then replaces it).

    As safe as ConnectionPool.check_connection after a PostgreSQL restart (a closed socket is
    readable, so it gets the full check), without a round trip on every borrow.
    """
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    idle_since = getattr(conn, _IDLE_SINCE, 0.0)
    if time.monotonic() - idle_since > IDLE_CHECK_SECONDS or _socket_has_news(conn):
        ConnectionPool.check_connection(conn)
