"""The pool's check of a borrowed connection: a round trip only when the connection may be dead."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from cms import db
from cms.db import pool as db_pool


@pytest.fixture
def round_trips(monkeypatch):
    """Calls of psycopg_pool's own check (an empty query: one round trip to the server)."""
    calls = []
    original = ConnectionPool.check_connection

    def counting(conn):
        calls.append(conn)
        return original(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counting))
    return calls


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_a_connection_returned_moments_ago_is_lent_without_a_round_trip(conn, round_trips):
    db_pool._mark_idle(conn)

    db.check_borrowed_connection(conn)

    assert round_trips == []


def test_a_connection_idle_for_a_while_is_checked_with_a_round_trip(conn, round_trips):
    db_pool._mark_idle(conn)
    setattr(conn, db_pool._IDLE_SINCE, time.monotonic() - db_pool.IDLE_CHECK_SECONDS - 1)

    db.check_borrowed_connection(conn)

    assert round_trips == [conn]


def test_a_connection_the_server_closed_moments_ago_is_refused(conn, sql, round_trips):
    db_pool._mark_idle(conn)
    sql.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    deadline = time.monotonic() + 5
    while not db_pool._socket_has_news(conn) and time.monotonic() < deadline:
        time.sleep(0.01)

    with pytest.raises(psycopg.OperationalError):
        db.check_borrowed_connection(conn)
    assert round_trips == [conn]


def test_a_closed_connection_is_refused(conn):
    conn.close()

    with pytest.raises(psycopg.OperationalError):
        db.check_borrowed_connection(conn)


def test_requests_after_the_server_dropped_every_pooled_connection_succeed(make_app, sql, factory):
    app = make_app(pool_min_size=2, pool_max_size=2)
    client = app.test_client()
    car = factory.car(factory.user("seller"))
    assert client.get(f"/api/cars/{car['id']}").status_code == 200
    pids = []
    with app.app_context():
        pool = db.get_pool()
        borrowed = [pool.getconn(), pool.getconn()]
        pids = [c.info.backend_pid for c in borrowed]
        for c in borrowed:
            pool.putconn(c)
    sql.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    time.sleep(0.2)  # the server closes the sockets

    statuses = [client.get(f"/api/cars/{car['id']}").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 200]
