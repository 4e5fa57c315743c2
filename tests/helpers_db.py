"""Helpers for tests that need databases of their own (migrations, adoption, health, CLI)."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from conftest import ADMIN_URL
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from cms import db

# Made by PostgreSQL's pgcrypto (crypt('old-secret-42', gen_salt('bf', 10))), an implementation
# independent of Python's bcrypt, in the `$2a$10$` format of the old server's bcryptjs.
LEGACY_PASSWORD = "old-secret-42"
LEGACY_HASH = "$2a$10$QmxPGvQWw8nHJQEn6bnNlORKeJR7.VMw62axC.QogWr5qFO.mQYcy"

TESTS_DIR = Path(__file__).resolve().parent
LEGACY_SCHEMA = TESTS_DIR / "legacy_schema.sql"

APP_TABLES = {
    "users", "cars", "orders", "inquiries", "reviews", "favorites", "car_images", "admin_actions",
    "legacy_row_repairs", "car_image_files",
}


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection with dict rows."""
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def count_rows(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(pgsql.SQL("SELECT count(*) AS n FROM {}").format(pgsql.Identifier(table))).fetchone()["n"]


def atob_payload(token: str) -> dict:
    """Decode a JWT payload the way the frontend does: atob(token.split('.')[1]), i.e. plain base64."""
    parts = token.split(".")
    assert len(parts) == 3
    payload = parts[1]
    assert "-" not in payload and "_" not in payload, "atob cannot read base64url's - and _"
    padded = payload + "=" * (-len(payload) % 4)
    return json.loads(base64.b64decode(padded, validate=True))
