"""Fixtures: a private, migrated PostgreSQL database per test session (and per
xdist worker), an app on it, a client, and factories for users and cars.

Every test starts from empty tables (truncated before each test), so tests do
not depend on each other's data. The database is dropped at the end.
"""

from __future__ import annotations

import functools
import os

import psycopg
import pytest
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from support.app import TEST_JWT_SECRET, Factory, OutboxMessages, app_config
from support.databases import APP_TABLES, create_database, drop_database, migrate, unique_database_name
from support.live_server import start_server

from cms import create_app


@pytest.fixture(scope="session")
def database_url():
    """A new database with every migration applied; dropped after the session."""
    name = unique_database_name("app")
    url = create_database(name)
    try:
        yield migrate(url)
    finally:
        drop_database(name)


@pytest.fixture
def fresh_database():
    """Factory of empty extra databases (not migrated), dropped after the test."""
    names = []

    def make(label: str = "extra") -> str:
        name = unique_database_name(label)
        names.append(name)
        return create_database(name)

    yield make
    for name in names:
        drop_database(name)


@pytest.fixture(scope="session")
def app(database_url):
    application = create_app(app_config(database_url))
    yield application
    application.extensions["cms.pool"].close()


@pytest.fixture
def make_app(database_url):
    """Build an extra app with some settings changed; its pool is closed after the test."""
    apps = []

    def make(**overrides):
        application = create_app(app_config(overrides.pop("database_url", database_url), **overrides))
        apps.append(application)
        return application

    yield make
    for application in apps:
        application.extensions["cms.pool"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sql(database_url):
    """A direct autocommit connection to the test database, rows as dicts."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(autouse=True)
def _settings_read_on_every_request(monkeypatch):
    """Tests see settings changes at once (no per-process cache), and every request costs the
    same statements, so statement counts do not depend on the cache's age."""
    from cms.services import settings as runtime_settings

    monkeypatch.setattr(runtime_settings, "CACHE_SECONDS", 0.0)


@pytest.fixture(autouse=True)
def _validator_read_on_every_request(monkeypatch):
    """Every public read reads its validator (no connection's recent reading serves), so that a
    test's statements do not depend on how long ago its connection answered; the tests of the
    recent reading set their own window (tests/test_revalidation.py)."""
    from cms.services import revalidation

    monkeypatch.setattr(revalidation, "RECENT_SECONDS", 0.0)


@pytest.fixture(autouse=True)
def _empty_tables(request):
    """Start every test that uses the database from empty tables."""
    if "database_url" not in request.fixturenames:
        yield
        return
    url = request.getfixturevalue("database_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_empty_tables_sql())
    yield


@functools.cache
def _empty_tables_sql() -> pgsql.Composed:
    """DELETE every row and restart every id sequence, in one round trip.

    Much faster than TRUNCATE on small tables (no new files to create and sync)."""
    statements = [pgsql.SQL("DELETE FROM {}").format(pgsql.Identifier(t)) for t in APP_TABLES]
    statements.append(pgsql.SQL(
        "SELECT setval(s.oid::regclass, 1, false) FROM pg_class AS s "
        "JOIN pg_namespace AS n ON n.oid = s.relnamespace WHERE s.relkind = 'S' AND n.nspname = 'public'"
    ))
    statements.append(pgsql.SQL("INSERT INTO settings DEFAULT VALUES"))
    return pgsql.SQL("; ").join(statements)


@pytest.fixture
def factory(sql, app):
    return Factory(sql, app)


@pytest.fixture
def outbox_messages(sql):
    return OutboxMessages(sql)


@pytest.fixture(scope="session")
def live_server(database_url, tmp_path_factory):
    """The real service under granian (2 workers × 4 threads) on the session database."""
    server = start_server(database_url, tmp_path_factory.mktemp("live"), jwt_secret=TEST_JWT_SECRET)
    yield server
    server.stop()


def pytest_report_header(config):
    return f"database server: {os.environ['TEST_DATABASE_SERVER']}"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"tests ran on: {os.environ['TEST_DATABASE_SERVER']}")
