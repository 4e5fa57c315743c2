"""Which connection a lag-tolerant read uses: a replica's when one may serve it (up, within
DB_REPLICA_MAX_LAG_SECONDS, and past the caller's last write), else the primary's."""

from __future__ import annotations

import functools
from collections.abc import Callable

import psycopg
from flask import current_app, g
from psycopg_pool import PoolTimeout

from cms.db.pool import CheckedPool, mark_idle
from cms.db.replicas import ReplicaSet, lsn_value
from cms.db.session import connection_kwargs


def open_replicas(settings) -> ReplicaSet | None:
    """A pool per DATABASE_REPLICA_URL (opened in the background: a replica that is down at start-up
    is only skipped), or None without replicas."""
    if not settings.database_replica_urls:
        return None
    return ReplicaSet(settings.database_replica_urls, connection_kwargs(settings), max_size=settings.pool_max_size,
                      max_lag=settings.replica_max_lag_seconds, pool_class=CheckedPool, configure=mark_idle)


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
            return_replica_connection(broken=error)
            g.db_replica_ok = False
            return view(*args, **kwargs)

    return wrapper


def note_user(user_id: int, last_write_lsn: str | None) -> None:
    """Called by the token loader: the signed-in user and the WAL position of their last write."""
    g.db_user_id = user_id
    g.db_user_write_lsn = last_write_lsn


def replica_connection(state) -> psycopg.Connection | None:
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


def return_replica_connection(broken: BaseException | None = None) -> None:
    conn = g.pop("db_read_conn", None)
    replica = g.pop("db_replica", None)
    if conn is not None:
        get_replicas().give_back(replica, conn, broken=broken)
