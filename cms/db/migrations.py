"""The schema's version: dbmate over sql/migrations, seed.sql, and the start-up check."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from cms.db.queries import query
from cms.db.rows import fetch_all, fetch_one, fetch_value
from cms.db.session import check_session_settings, connect, one_line, redact
from cms.resources import MIGRATIONS_DIR, SEED_FILE  # the checkout's files, or the wheel's copy

LATEST_MIGRATION = query("latest_migration")
SERVER_VERSION = query("server_version")
APPLIED_MIGRATIONS = query("applied_migrations")
TABLE_EXISTS = query("table_exists")

# dbmate's sections: the up section runs to `-- migrate:down`; `transaction:false` on its line.
UP_SECTION = re.compile(r"^-- migrate:up(?P<options>[^\n]*)\n(?P<statements>.*?)^-- migrate:down", re.S | re.M)
CONCURRENTLY = re.compile(r"\bCONCURRENTLY\s+", re.I)


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


def run_seed(database_url: str) -> None:
    """Load seed.sql through psycopg: one script of plain SQL in its own BEGIN/COMMIT, so
    `psql -f seed.sql` loads it the same way; no psql needed. Raises psycopg.Error."""
    with connect(database_url, direct=True) as conn:
        conn.execute(SEED_FILE.read_text(encoding="utf-8"))


def pending_migrations(conn: psycopg.Connection) -> list[Path]:
    """The migration files dbmate has not recorded as applied, in the order it would apply them."""
    present = fetch_value(conn, TABLE_EXISTS, {"name": "schema_migrations"})
    applied = {row["version"] for row in fetch_all(conn, APPLIED_MIGRATIONS)} if present else set()
    files = sorted(MIGRATIONS_DIR.glob("[0-9]*_*.sql"), key=lambda path: path.name)
    return [path for path in files if path.name.split("_", 1)[0] not in applied]


def rehearse_migrations(database_url: str) -> str | None:
    """Apply every pending migration in one transaction and roll it back: None when all of them
    went through, else one line naming the migration that stopped and why.

    dbmate runs each file in its own transaction, so a file that fails leaves the earlier ones
    applied. Rehearsed first, a database that cannot be migrated is left exactly as it was.
    Only a database that holds the service's or the old server's tables is rehearsed (there is
    nothing to stop on otherwise); one that does not exist yet is left to dbmate, which creates it.
    `CREATE/DROP INDEX CONCURRENTLY` (transaction:false files) run without CONCURRENTLY here,
    which a transaction allows; the locks they take are released at the rollback.
    """
    try:
        conn = connect(database_url, direct=True, statement_timeout_ms=0)
    except psycopg.OperationalError:
        return None
    with conn:
        if not fetch_value(conn, TABLE_EXISTS, {"name": "users"}):
            return None
        with conn.transaction(force_rollback=True):
            for path in pending_migrations(conn):
                section = UP_SECTION.search(path.read_text(encoding="utf-8"))
                if section is None:
                    return f"{path.name} has no `-- migrate:up` ... `-- migrate:down` sections"
                statements = section["statements"]
                if "transaction:false" in section["options"]:
                    statements = CONCURRENTLY.sub("", statements)
                try:
                    conn.execute(statements)
                except psycopg.Error as error:
                    reason = error.diag.message_primary or one_line(error)
                    hint = error.diag.message_hint
                    return f"{path.name} would fail: {reason}" + (f" ({hint})" if hint else "")
    return None


def applied_versions(database_url: str) -> list[str]:
    """The versions dbmate recorded (empty when the database or its schema_migrations is missing)."""
    try:
        with connect(database_url, direct=True) as conn:
            if not fetch_value(conn, TABLE_EXISTS, {"name": "schema_migrations"}):
                return []
            return [row["version"] for row in fetch_all(conn, APPLIED_MIGRATIONS)]
    except psycopg.OperationalError:
        return []


def server_version(conn: psycopg.Connection) -> str:
    return fetch_value(conn, SERVER_VERSION)


def applied_migration(conn: psycopg.Connection) -> str | None:
    """Version of the newest applied migration (None on an empty schema_migrations)."""
    row = fetch_one(conn, LATEST_MIGRATION)
    return row["version"] if row else None
