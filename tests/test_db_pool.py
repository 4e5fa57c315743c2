"""The pool's check of a borrowed connection: a round trip only when the connection may be dead."""

from __future__ import annotations

import time

import psycopg
import pytest
import requests
from psycopg_pool import ConnectionPool
from support.app import TEST_JWT_SECRET
from support.live_server import start_server

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
    db_pool.mark_idle(conn)

    db.check_borrowed_connection(conn)

    assert round_trips == []


def test_a_connection_idle_for_a_while_is_checked_with_a_round_trip(conn, round_trips):
    db_pool.mark_idle(conn)
    setattr(conn, db_pool._IDLE_SINCE, time.monotonic() - db_pool.IDLE_CHECK_SECONDS - 1)

    db.check_borrowed_connection(conn)

    assert round_trips == [conn]


def test_a_connection_the_server_closed_moments_ago_is_refused(conn, sql, round_trips):
    db_pool.mark_idle(conn)
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


def _terminate(sql, pids) -> None:
    """pg_terminate_backend of each pid, then wait until those backends are gone."""
    sql.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(pids),))
    deadline = time.monotonic() + 5
    while sql.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY(%s)",
                      (list(pids),)).fetchone()["n"] and time.monotonic() < deadline:
        time.sleep(0.02)


def test_six_requests_after_every_one_of_six_pooled_connections_was_terminated_succeed(make_app, sql, factory):
    # Six idle connections, all dead: the pool must replace them without waiting between failed
    # checks (psycopg_pool's own check loop backs off 1 s, 2 s, 4 s... and gives up at the timeout).
    app = make_app(pool_min_size=6, pool_max_size=6, pool_timeout=3.0)
    client = app.test_client()
    car = factory.car(factory.user("seller"))
    with app.app_context():
        pool = db.get_pool()
        pool.wait(timeout=10)
        borrowed = [pool.getconn() for _ in range(6)]
        pids = {conn.info.backend_pid for conn in borrowed}
        for conn in borrowed:
            pool.putconn(conn)
    assert len(pids) == 6
    _terminate(sql, pids)

    statuses = [client.get(f"/api/cars/{car['id']}").status_code for _ in range(3)]
    statuses += [client.get("/ping").status_code for _ in range(3)]

    assert statuses == [200] * 6


@pytest.mark.slow
def test_the_live_service_answers_after_every_pooled_connection_was_terminated(database_url, sql, factory, tmp_path):
    """The real server (2 workers × 4 threads, 4 idle connections each): pg_terminate_backend of
    all of them, as a failover or a PgBouncer restart does, then six requests: all answered 200."""
    name = "cms-pool-loss-test"
    server = start_server(database_url, tmp_path, workers=2, threads=4, jwt_secret=TEST_JWT_SECRET,
                          extra_env={"PGAPPNAME": name, "DB_POOL_MIN": "4", "DB_POOL_MAX": "6",
                                     "DB_POOL_TIMEOUT": "3"})
    try:
        car = factory.car(factory.user("seller"))
        server.wait_for_workers(2)
        query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
        deadline = time.monotonic() + 20
        while len(pids := {row["pid"] for row in sql.execute(query, (name,))}) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(pids) == 8, "each worker opens DB_POOL_MIN connections at start"
        _terminate(sql, pids)

        statuses = []
        for n in range(6):
            path = "/ping" if n % 2 else f"/api/cars/{car['id']}"
            statuses.append(requests.get(server.url + path, timeout=30).status_code)
    finally:
        server.stop()

    assert statuses == [200] * 6, server.log()
