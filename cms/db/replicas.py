"""Read replicas: one pool per replica, their health and lag, and the choice of a replica for a read.

A replica is used only when it answers, is still in recovery (not promoted), lags no more than
DB_REPLICA_MAX_LAG_SECONDS and, for a signed-in user who wrote before, has replayed the WAL
position of that user's last write (read-your-writes, see docs/scaling.md). Otherwise the caller
reads from the primary. A replica that fails is skipped for RETRY_SECONDS, then tried again.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from cms.db.queries import query
from cms.db.session import one_line, redact

log = logging.getLogger(__name__)

REPLICA_STATUS = query("replica_status")

# How often a replica in use is asked for its lag (a round trip on a connection already borrowed).
CHECK_SECONDS = 1.0
# How long a replica that failed or lagged too far is left alone before it is tried again.
RETRY_SECONDS = 2.0
# How long a request waits for a replica connection before it reads from the primary instead.
BORROW_TIMEOUT = 0.5


def lsn_value(lsn: str | None) -> int:
    """A pg_lsn text ('16/B374D848') as a number, for comparing WAL positions; 0 for None."""
    if not lsn:
        return 0
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass
class Replica:
    """One replica: its pool and what its last check found."""

    name: str
    url: str
    pool: ConnectionPool
    state: str = "unknown"  # ok, down, lagging, promoted (no longer a replica), unknown (not used yet)
    lag_seconds: float | None = None
    replayed: int = 0
    checked_at: float = 0.0
    retry_at: float = 0.0
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def skip_now(self, now: float) -> bool:
        return self.state in {"down", "lagging", "promoted"} and now < self.retry_at

    def failed(self, error: BaseException) -> None:
        with self.lock:
            if self.state != "down":
                log.warning("replica %s skipped: %s", self.name, one_line(error))
            self.state, self.error = "down", f"{type(error).__name__}: {one_line(error)}"
            self.retry_at = time.monotonic() + RETRY_SECONDS

    def record(self, row: dict, max_lag: float) -> None:
        with self.lock:
            now = time.monotonic()
            self.checked_at, self.error = now, None
            self.lag_seconds = float(row["lag_seconds"] or 0.0)
            self.replayed = lsn_value(row["replayed_lsn"])
            if not row["in_recovery"]:
                self.state = "promoted"
            elif self.lag_seconds > max_lag:
                self.state = "lagging"
            else:
                self.state = "ok"
            if self.state != "ok":
                self.retry_at = now + RETRY_SECONDS

    def status(self) -> dict:
        return {"name": self.name, "state": self.state,
                "lagSeconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
                "error": self.error}


class ReplicaSet:
    """The replicas of DATABASE_REPLICA_URL, tried in turn."""

    def __init__(self, urls: list[str] | tuple[str, ...], connect_kwargs: dict, *, max_size: int, max_lag: float,
                 pool_class: type[ConnectionPool] = ConnectionPool, configure=None):
        """pool_class: the pool of each replica (the service passes the primary's, which checks what it lends)."""
        self.max_lag = max_lag
        self._turn = itertools.count()
        self.replicas = [
            Replica(name=redact(url), url=url, pool=pool_class(
                url, min_size=0, max_size=max_size, timeout=BORROW_TIMEOUT, kwargs=connect_kwargs,
                configure=configure, reset=configure,
                reconnect_timeout=0, name=f"cms-replica-{index}", open=False,
            ))
            for index, url in enumerate(urls)
        ]
        self._connect_kwargs = connect_kwargs
        for replica in self.replicas:
            replica.pool.open(wait=False)

    def choose(self, floor: int = 0) -> tuple[Replica, psycopg.Connection] | None:
        """A usable replica and a connection of its pool, or None (read from the primary).

        floor: the WAL position the replica must have replayed (the user's last write), 0 for none.
        """
        count = len(self.replicas)
        start = next(self._turn)
        for offset in range(count):
            replica = self.replicas[(start + offset) % count]
            conn = self._borrow(replica)
            if conn is None:
                continue
            if replica.state == "ok" and (floor <= replica.replayed):
                return replica, conn
            replica.pool.putconn(conn)
        return None

    def _borrow(self, replica: Replica) -> psycopg.Connection | None:
        """A checked connection of the replica's pool, or None when the replica cannot serve now."""
        now = time.monotonic()
        if replica.skip_now(now):
            return None
        if replica.state in {"down", "unknown"} and not self._reachable(replica):
            return None
        try:
            conn = replica.pool.getconn()
        except PoolTimeout as error:
            if replica.pool.get_stats().get("pool_size", 0) == 0:
                replica.failed(error)  # no connection at all: it refuses or is gone
            return None  # else: busy; this read goes to the primary
        if now - replica.checked_at >= CHECK_SECONDS or replica.state != "ok":
            try:
                replica.record(conn.execute(REPLICA_STATUS.sql).fetchone(), self.max_lag)
            except psycopg.Error as error:
                replica.pool.putconn(conn)
                replica.failed(error)
                return None
        return conn

    def _reachable(self, replica: Replica) -> bool:
        """A quick direct connection attempt, so that a replica known to be down costs no pool wait."""
        try:
            psycopg.connect(replica.url, **{**self._connect_kwargs, "connect_timeout": 1}).close()
        except psycopg.Error as error:
            replica.failed(error)
            return False
        return True

    def give_back(self, replica: Replica, conn: psycopg.Connection, *, broken: BaseException | None = None) -> None:
        """Return a connection; `broken`: it failed in use (the replica is skipped for a while)."""
        if broken is not None:
            replica.failed(broken)
            conn.close()  # the pool discards a closed connection
        replica.pool.putconn(conn)

    def report(self, max_age: float = CHECK_SECONDS) -> list[dict]:
        """Each replica's state and lag (for /ping), checked now where the last check is older than max_age."""
        now = time.monotonic()
        for replica in self.replicas:
            if now - max(replica.checked_at, replica.retry_at - RETRY_SECONDS) >= max_age:
                self.check(replica)
        return [replica.status() for replica in self.replicas]

    def check(self, replica: Replica) -> None:
        """Ask the replica for its state and lag on a connection of its own."""
        try:
            with psycopg.connect(replica.url, **{**self._connect_kwargs, "connect_timeout": 1}) as conn:
                replica.record(conn.execute(REPLICA_STATUS.sql).fetchone(), self.max_lag)
        except psycopg.Error as error:
            replica.failed(error)

    def close(self) -> None:
        for replica in self.replicas:
            replica.pool.close()
