"""GET /ping: alive with database facts; 503 while the database is unreachable; recovers by itself."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from support.databases import connect, database_name, migrate, set_allow_connections

from cms import db


def parse_timestamp(text: str) -> dt.datetime:
    assert text.endswith("Z")
    return dt.datetime.fromisoformat(text[:-1] + "+00:00")


def test_admin_health_reports_alive_with_database_migration_and_pool_facts(client, sql, factory):
    response = client.get("/api/admin/health", headers=factory.headers(factory.user("admin")))

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "alive"
    assert body["database"] == "connected"
    assert abs((dt.datetime.now(dt.UTC) - parse_timestamp(body["timestamp"])).total_seconds()) < 60
    assert body["databaseVersion"] == sql.execute("SHOW server_version").fetchone()["server_version"]
    assert body["migrationVersion"] == db.latest_migration_file_version()
    pool = body["pool"]
    assert set(pool) >= {"size", "available", "waiting", "max"}
    assert pool["max"] == 8
    assert 0 <= pool["available"] <= pool["size"] <= pool["max"]
    assert all(isinstance(value, int) for value in pool.values())


def test_ping_needs_no_token_and_answers_cors(client):
    response = client.get("/ping", headers={"Origin": "http://localhost:5173"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in {"*", "http://localhost:5173"}


@pytest.fixture
def own_database(fresh_database):
    url = migrate(fresh_database("health"))
    yield url
    set_allow_connections(database_name(url), True)


def test_ping_is_503_while_the_database_is_down_and_recovers_without_a_restart(own_database, make_app):
    app = make_app(database_url=own_database, pool_timeout=1.0, pool_min_size=1, pool_max_size=2)
    client = app.test_client()
    assert client.get("/ping").status_code == 200

    set_allow_connections(database_name(own_database), False)
    try:
        started = time.monotonic()
        response = client.get("/ping")
        elapsed = time.monotonic() - started

        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "degraded"
        assert body["database"] == "disconnected"
        assert body["error"]
        assert abs((dt.datetime.now(dt.UTC) - parse_timestamp(body["timestamp"])).total_seconds()) < 60
        assert elapsed < 3.0, f"/ping took {elapsed:.1f}s with a 1 s pool timeout"

        # Other routes answer a JSON 503 too, not a 500.
        other = client.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
        assert other.status_code == 503
        assert other.get_json()["error"]
    finally:
        set_allow_connections(database_name(own_database), True)

    deadline = time.monotonic() + 10
    while True:
        response = client.get("/ping")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200
    assert response.get_json()["status"] == "alive"
    with connect(own_database) as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
