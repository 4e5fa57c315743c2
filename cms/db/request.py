"""The request's connection: borrowed from the process's pool (or a replica's, for a read declared
lag-tolerant) on first use, returned at teardown; transaction() for explicit transactions."""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool

from cms.db.replica_routing import replica_connection, return_replica_connection
from cms.db.replicas import ReplicaSet
from cms.db.write_positions import write_position_recorder


def get_pool() -> ConnectionPool:
    return current_app.extensions["cms.pool"]


def connection() -> psycopg.Connection:
    """The request's connection (autocommit; borrowed once, returned at teardown).

    In a handler declared with @replica_reads, a replica's connection when one may serve it.
    """
    state = g._get_current_object()  # one context lookup: this runs several times per request
    if state.get("db_replica_ok"):
        conn = replica_connection(state)
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
        return_replica_connection()

def init_app(app: Flask, pool: ConnectionPool, replicas: ReplicaSet | None = None) -> None:
    """Attach the pool (and the replicas, if any) to the app, return connections after each request,
    close the pools at exit."""
    app.extensions["cms.pool"] = pool
    app.teardown_appcontext(_return_connection)
    atexit.register(pool.close)
    if replicas is not None:
        app.extensions["cms.replicas"] = replicas
        app.after_request(write_position_recorder(primary_connection))
        atexit.register(replicas.close)
