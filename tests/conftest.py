"""Fixtures: a private, migrated PostgreSQL database per test session (and per
xdist worker), an app on it, a client, and factories for users and cars.

Every test starts from empty tables (truncated before each test), so tests do
not depend on each other's data. The database is dropped at the end.
"""

from __future__ import annotations

import functools
import os
import uuid

import bcrypt
import database_server
import psycopg
import pytest
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from cms import create_app, db

ADMIN_URL = database_server.admin_url()  # the machine's server on 127.0.0.1:5432, else an embedded one
TEST_JWT_SECRET = "test-secret-" + "x" * 40
DEFAULT_PASSWORD = "Password123!"

# Children before parents, so that plain DELETEs never trip a foreign key.
APP_TABLES = (
    "notification_attempts", "notification_outbox", "auth_events", "admin_actions",
    "car_image_files", "car_images", "favorites", "reviews", "inquiries", "orders",
    "settings", "cars", "users", "legacy_row_repairs",
)


def database_url_for(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database(name: str) -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return database_url_for(name)


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


def unique_database_name(label: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"cms_test_{label}_{worker}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def database_url():
    """A new database with every migration applied; dropped after the session."""
    name = unique_database_name("app")
    url = create_database(name)
    try:
        db.run_dbmate(url, "up")
        yield url
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


def app_config(database_url: str, **overrides) -> dict:
    config = {
        "env": "test",
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "pool_min_size": 1,
        "pool_max_size": 8,
        "pool_timeout": 3.0,
        "telegram_enabled": False,
    }
    config.update(overrides)
    return config


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


@functools.cache
def password_hash(password: str) -> str:
    """bcrypt hash at cost 10, computed once per password per session."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()


class Factory:
    """Insert rows straight into the database and build auth headers."""

    def __init__(self, conn: psycopg.Connection, app):
        self.conn = conn
        self.app = app
        self._count = 0

    def user(self, role: str = "user", *, email: str | None = None, name: str | None = None,
             password: str = DEFAULT_PASSWORD, is_active: bool = True, **columns) -> dict:
        self._count += 1
        values = {
            "name": name or f"{role.title()} {self._count}",
            "email": email or f"{role}{self._count}-{uuid.uuid4().hex[:6]}@example.com",
            "password_hash": password_hash(password),
            "role": role,
            "is_active": is_active,
            **columns,
        }
        row = self._insert("users", values)
        row["password"] = password
        return row

    def car(self, seller: dict, **columns) -> dict:
        self._count += 1
        values = {
            "title": f"Car {self._count}",
            "price": 10000 + self._count,
            "description": "A fine car",
            "seller_id": seller["id"],
            "status": "available",
            "brand": "Brand",
            "model": "Model",
            "year": 2020,
            "fuel_type": "Gasoline",
            "image": None,
            **columns,
        }
        return self._insert("cars", values)

    def row(self, table: str, **columns) -> dict:
        """Insert any row; returns it."""
        return self._insert(table, columns)

    def token(self, user: dict) -> str:
        from cms.auth import issue_token

        with self.app.app_context():
            return issue_token(user)

    def headers(self, user: dict) -> dict:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def _insert(self, table: str, values: dict) -> dict:
        statement = pgsql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
            pgsql.Identifier(table),
            pgsql.SQL(", ").join(pgsql.Identifier(k) for k in values),
            pgsql.SQL(", ").join(pgsql.Placeholder(k) for k in values),
        )
        from psycopg.types.json import Jsonb

        params = {k: Jsonb(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
        return self.conn.execute(statement, params).fetchone()


@pytest.fixture
def factory(sql, app):
    return Factory(sql, app)


class OutboxMessages:
    """The texts queued in notification_outbox, oldest first."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    @property
    def messages(self) -> list[str]:
        rows = self.conn.execute("SELECT message FROM notification_outbox ORDER BY id").fetchall()
        return [row["message"] for row in rows]


@pytest.fixture
def outbox_messages(sql):
    return OutboxMessages(sql)


@pytest.fixture(scope="session")
def live_server(database_url, tmp_path_factory):
    """The real service under gunicorn (2 workers × 4 threads) on the session database."""
    from live_server import start_server

    server = start_server(database_url, tmp_path_factory.mktemp("live"), jwt_secret=TEST_JWT_SECRET)
    yield server
    server.stop()


def pytest_report_header(config):
    return f"database server: {os.environ['TEST_DATABASE_SERVER']}"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"tests ran on: {os.environ['TEST_DATABASE_SERVER']}")
