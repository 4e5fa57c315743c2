"""Databases for tests: the server's admin URL, private databases, the legacy schema, catalog readers."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql as pgsql

from cms import db
from cms.config import Settings
from support import database_server

ADMIN_URL = database_server.admin_url()  # the machine's server on 127.0.0.1:5432, else an embedded one

# Made by PostgreSQL's pgcrypto (crypt('old-secret-42', gen_salt('bf', 10))), an implementation
# independent of Python's bcrypt, in the `$2a$10$` format of the old server's bcryptjs.
LEGACY_PASSWORD = "old-secret-42"
LEGACY_HASH = "$2a$10$QmxPGvQWw8nHJQEn6bnNlORKeJR7.VMw62axC.QogWr5qFO.mQYcy"

TESTS_DIR = Path(__file__).resolve().parent.parent
LEGACY_SCHEMA = TESTS_DIR / "legacy_schema.sql"

# Every table of the application, children before parents (plain DELETEs in this order never
# trip a foreign key).
APP_TABLES = (
    "notification_attempts", "notification_outbox", "auth_events", "admin_actions",
    "car_image_files", "car_images", "favorites", "reviews", "inquiries", "orders",
    "settings", "cars", "users", "legacy_row_repairs", "idempotency_keys",
)


def database_url_for(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database(name: str) -> str:
    with admin_connection() as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return database_url_for(name)


def drop_database(name: str) -> None:
    with admin_connection() as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


def unique_database_name(label: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"cms_test_{label}_{worker}_{uuid.uuid4().hex[:8]}"


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection with dict rows (the service's session settings, no statement timeout)."""
    return db.connect(url, settings=Settings(), statement_timeout_ms=0)


def admin_connection() -> psycopg.Connection:
    return connect(ADMIN_URL)


def migrate(url: str) -> str:
    """Apply every migration (dbmate up); returns the URL."""
    db.run_dbmate(url, "up")
    return url


def load_legacy_schema(url: str) -> None:
    """Create the old server's tables in an empty database."""
    with connect(url) as conn:
        conn.execute(LEGACY_SCHEMA.read_text())


def public_tables(url: str) -> set[str]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row["tablename"] for row in rows}


def applied_versions(url: str) -> list[str]:
    with connect(url) as conn:
        return [row["version"] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def set_allow_connections(name: str, allowed: bool) -> None:
    """Open or close a database to new connections; closing also ends the open ones."""
    with admin_connection() as conn:
        conn.execute(
            pgsql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                pgsql.Identifier(name), pgsql.SQL("true" if allowed else "false")
            )
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            # pg_terminate_backend only signals: wait until the backends are really gone.
            deadline = time.monotonic() + 10
            while conn.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()["n"] and time.monotonic() < deadline:
                time.sleep(0.05)


def count_rows(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(pgsql.SQL("SELECT count(*) AS n FROM {}").format(pgsql.Identifier(table))).fetchone()["n"]


def wait_for_lock_waiter(sql, timeout=5.0) -> None:
    """Until a session of the test database waits for a lock; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = sql.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ).fetchone()["n"]
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the request never waited for the row lock")
