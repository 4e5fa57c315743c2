"""The schema's version: dbmate over sql/migrations, seed.sql, and the start-up check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from cms.db.queries import query
from cms.db.rows import fetch_one, fetch_value
from cms.db.session import check_session_settings, connect, one_line, redact
from cms.resources import MIGRATIONS_DIR, SEED_FILE  # the checkout's files, or the wheel's copy

LATEST_MIGRATION = query("latest_migration")
SERVER_VERSION = query("server_version")


class StartupError(Exception):
    """The service cannot start (database unreachable, schema not migrated)."""


def latest_migration_file_version() -> str:
    """Version prefix of the newest file in sql/migrations (e.g. '0009')."""
    versions = sorted(p.name.split("_", 1)[0] for p in MIGRATIONS_DIR.glob("[0-9]*_*.sql"))
    return versions[-1] if versions else ""


def check_database(settings) -> None:
    """Raise StartupError (one line saying why) unless the database answers and is fully migrated.

    A single direct connection rather than the pool: it fails at once with libpq's own
    reason (refused, unknown database, bad password) instead of a pool timeout.
    """
    try:
        with connect(settings.database_url, settings=settings) as conn:
            # Through a transaction pooler the session settings come from the role: refuse to run
            # without them (no statement timeout, another time zone or date format otherwise).
            wrong_settings = check_session_settings(conn, settings) if settings.db_pool_mode == "transaction" else None
            if wrong_settings:
                raise StartupError(wrong_settings)
            applied = applied_migration(conn)
    except psycopg.errors.UndefinedTable:
        raise StartupError(
            "the database has no schema_migrations table: run the migrations first (cms db up)"
        ) from None
    except psycopg.Error as error:
        raise StartupError(f"cannot reach the database at {redact(settings.database_url)}: {one_line(error)}") from None
    expected = latest_migration_file_version()
    if applied != expected:
        raise StartupError(
            f"the database schema is at migration {applied or 'none'} but this release needs {expected}: "
            "run the migrations (cms db up)"
        )


def dbmate_url(database_url: str) -> str:
    """dbmate's spelling of a libpq URL: postgres:// scheme, socket= for a socket dir, sslmode set."""
    parts = urlsplit(database_url)
    params = dict(parse_qsl(parts.query))
    host = params.pop("host", "")
    if host.startswith("/"):
        params["socket"] = host
    params.setdefault("sslmode", "disable")
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(params), ""))


def run_dbmate(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run dbmate against the migrations of this repository."""
    binary = Path(sys.executable).parent / "dbmate"
    command = [
        str(binary if binary.exists() else "dbmate"),
        "--url", dbmate_url(database_url),
        "--migrations-dir", str(MIGRATIONS_DIR),
        "--no-dump-schema",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(command, check=check, env=env, capture_output=True, text=True)


def run_seed(database_url: str) -> subprocess.CompletedProcess:
    """Load seed.sql with psql, stopping at the first error."""
    return subprocess.run(
        ["psql", database_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(SEED_FILE)],
        check=True, capture_output=True, text=True,
    )


def server_version(conn: psycopg.Connection) -> str:
    return fetch_value(conn, SERVER_VERSION)


def applied_migration(conn: psycopg.Connection) -> str | None:
    """Version of the newest applied migration (None on an empty schema_migrations)."""
    row = fetch_one(conn, LATEST_MIGRATION)
    return row["version"] if row else None
