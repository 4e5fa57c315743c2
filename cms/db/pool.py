"""The process's connection pool, the request's connection and transaction(), and the routing of
lag-tolerant reads to replicas (replica_reads)."""

from __future__ import annotations

import atexit
import functools
import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app, g, request
from psycopg_pool import ConnectionPool, PoolTimeout

from cms.db.migrations import StartupError, check_database
from cms.db.queries import query
from cms.db.replicas import ReplicaSet, lsn_value
from cms.db.session import connection_kwargs, one_line, redact

log = logging.getLogger(__name__)


def open_pool(settings) -> ConnectionPool:
    """Open the process's pool and check that the database is reachable and migrated."""
    check_database(settings)
    pool = _Pool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        kwargs=connection_kwargs(settings),
        configure=_mark_idle,
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


class _Pool(ConnectionPool):
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
        _mark_idle(conn)
        super().putconn(conn)


def _reporting_connection_class(pool: _Pool) -> type[psycopg.Connection]:
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


def _mark_idle(conn: psycopg.Connection) -> None:
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


# --- per-request connection --------------------------------------------------------

def get_pool() -> ConnectionPool:
    return current_app.extensions["cms.pool"]


def connection() -> psycopg.Connection:
    """The request's connection (autocommit; borrowed once, returned at teardown).

    In a handler declared with @replica_reads, a replica's connection when one may serve it.
    """
    state = g._get_current_object()  # one context lookup: this runs several times per request
    if state.get("db_replica_ok"):
        conn = _replica_connection(state)
        if conn is not None:
            return conn
    conn = state.get("db_conn")
    return conn if conn is not None else primary_connection()


def primary_connection() -> psycopg.Connection:
    """The request's connection to the primary, whatever the handler declared."""
    state = g._get_current_object()
    conn = state.get("db_conn")
    if conn is None:
        conn = state.db_conn = current_app.extensions["cms.pool"].getconn()
    return conn


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """An explicit transaction on the request's connection: commit on success, roll back on error."""
    conn = connection()
    with conn.transaction():
        yield conn


def _return_connection(_exc: BaseException | None) -> None:
    state = g._get_current_object()
    conn = state.pop("db_conn", None)
    if conn is not None:
        current_app.extensions["cms.pool"].putconn(conn)
    if "db_read_conn" in state:
        _return_replica_connection()


def init_app(app: Flask, pool: ConnectionPool, replicas: ReplicaSet | None = None) -> None:
    """Attach the pool (and the replicas, if any) to the app, return connections after each request,
    close the pools at exit."""
    app.extensions["cms.pool"] = pool
    app.teardown_appcontext(_return_connection)
    atexit.register(pool.close)
    if replicas is not None:
        app.extensions["cms.replicas"] = replicas
        app.after_request(_mark_user_write)
        atexit.register(replicas.close)


# --- read replicas ---------------------------------------------------------------------------------

# A request with another method, by a signed-in user, records the user's write position (see
# _mark_user_write); reads of theirs then use only a replica that has replayed it.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MARK_USER_WRITE = query("mark_user_write")


def open_replicas(settings) -> ReplicaSet | None:
    """A pool per DATABASE_REPLICA_URL (opened in the background: a replica that is down at start-up
    is only skipped), or None without replicas."""
    if not settings.database_replica_urls:
        return None
    return ReplicaSet(settings.database_replica_urls, connection_kwargs(settings), max_size=settings.pool_max_size,
                      max_lag=settings.replica_max_lag_seconds, pool_class=_Pool, configure=_mark_idle)


def get_replicas() -> ReplicaSet | None:
    return current_app.extensions.get("cms.replicas")


def replica_reads(view: Callable) -> Callable:
    """Declare a handler that only reads and tolerates replication lag: its connection() may be a replica's.

    A replica serves it when one is usable (up, still a replica, within DB_REPLICA_MAX_LAG_SECONDS)
    and the caller is anonymous or the replica has replayed their last write (read-your-writes);
    otherwise the primary does. If the replica fails during the handler (stopped, restarted, cut
    off), the handler runs again on the primary: it only reads, so that is safe, and no request
    fails because of a replica.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.db_replica_ok = True
        try:
            return view(*args, **kwargs)
        except (psycopg.OperationalError, PoolTimeout) as error:
            if "db_read_conn" not in g:
                raise
            _return_replica_connection(broken=error)
            g.db_replica_ok = False
            return view(*args, **kwargs)

    return wrapper


def note_user(user_id: int, last_write_lsn: str | None) -> None:
    """Called by the token loader: the signed-in user and the WAL position of their last write."""
    g.db_user_id = user_id
    g.db_user_write_lsn = last_write_lsn


def _replica_connection(state) -> psycopg.Connection | None:
    """`state`: the request's g."""
    conn = state.get("db_read_conn")
    if conn is not None or state.get("db_read_decided"):
        return conn
    state.db_read_decided = True
    replicas = get_replicas()
    if replicas is None:
        return None
    load_user = current_app.extensions.get("cms.load_user")
    if load_user is not None:
        load_user()  # the token loader (on the primary) calls note_user() for a signed-in caller
    chosen = replicas.choose(floor=lsn_value(g.get("db_user_write_lsn")))
    if chosen is None:
        return None
    g.db_replica, g.db_read_conn = chosen
    return g.db_read_conn


def _return_replica_connection(broken: BaseException | None = None) -> None:
    conn = g.pop("db_read_conn", None)
    replica = g.pop("db_replica", None)
    if conn is not None:
        get_replicas().give_back(replica, conn, broken=broken)


def _mark_user_write(response):
    """After a signed-in user's writing request: record the primary's WAL position for them, so that
    their next reads, on any instance, use only a replica that has replayed this write."""
    user_id = g.get("db_user_id")
    if user_id is None or request.method in SAFE_METHODS or response.status_code >= 400:
        return response
    try:
        primary_connection().execute(MARK_USER_WRITE.sql, {"user_id": user_id})
    except (psycopg.Error, PoolTimeout) as error:  # the write itself is done: answer it, say what was missed
        log.warning("could not record the write position of user %s: %s", user_id, one_line(error))
    return response
