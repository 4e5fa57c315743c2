"""One way to open a connection: the pool's and every one-off connection's settings.

The pool (cms/db/pool.py) and every other connection of the service (CLI, backup and
restore, demo data, schema docs, the notification worker) get the same session
settings and timeouts from here, so a statement runs alike wherever it comes from.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from cms.config import Settings, load_settings
from cms.db.queries import query

# jit=off: the list queries' estimated cost at a million cars passes jit_above_cost, and
# compiling costs 15-25 ms per execution for queries that run in a few. No parallel
# workers: on a few cores shared with the web workers they only add latency, and the
# list query's skipped branches would still start them (bench/proposals/README.md).
# random_page_cost 1.1 (the usual value for SSDs and cached data, instead of 4 for spinning
# disks): with 4 the planner prefers walking cars_created_at_idx, whose rows lie in table
# order, over a brand's own index, and reads ~900 cars instead of ~50 for a brand's page.
# DateStyle ISO: fetch_rows(timestamps_as_text=True) relies on its format.
SESSION_SETTINGS = (
    ("timezone", "UTC"),
    ("datestyle", "ISO"),
    ("jit", "off"),
    ("max_parallel_workers_per_gather", "0"),
    ("random_page_cost", "1.1"),
)


def session_options(statement_timeout_ms: int) -> str:
    """libpq `options`: the session settings above plus the statement timeout (0 = none)."""
    settings = (("statement_timeout", str(statement_timeout_ms)), *SESSION_SETTINGS)
    return " ".join(f"-c {name}={value}" for name, value in settings)


SESSION_SETTINGS_NOW = query("session_settings")


def wanted_session_settings(settings: Settings) -> dict[str, str]:
    """Every setting the service's sessions need, with its value (statement_timeout in ms)."""
    return {"statement_timeout": str(settings.statement_timeout_ms), **dict(SESSION_SETTINGS)}


def _same_value(name: str, wanted: str, actual: str) -> bool:
    if name == "datestyle":  # 'ISO, MDY': the output format is what matters
        return actual.split(",")[0].strip().lower() == wanted.lower()
    try:
        return float(actual) == float(wanted)
    except ValueError:
        return actual.lower() == wanted.lower()


def check_session_settings(conn: psycopg.Connection, settings: Settings) -> str | None:
    """None when every session setting is in effect on this connection, else one line saying which
    are not and the ALTER ROLE statements that set them (DB_POOL_MODE=transaction relies on them)."""
    wanted = wanted_session_settings(settings)
    rows = _session_settings(conn, list(wanted))
    actual = {row["name"]: row["setting"] for row in rows}
    wrong = [name for name, value in wanted.items() if not _same_value(name, value, actual.get(name, ""))]
    if not wrong:
        return None
    found = ", ".join(f"{name} is {actual.get(name, '?')!r} (needs {wanted[name]!r})" for name in wrong)
    statements = " ".join(role_settings_statements(settings, conn, rows[0]["role_name"], rows[0]["database_name"]))
    return (f"DB_POOL_MODE=transaction: PgBouncer drops the start-up options, so the session settings must be "
            f"set for the role, and {found}. Run once on the database server (then RECONNECT in PgBouncer's "
            f"console): {statements}")


def _session_settings(conn: psycopg.Connection, names: list[str]) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(SESSION_SETTINGS_NOW.sql, {"names": names}).fetchall()


def role_settings_statements(settings: Settings, conn: psycopg.Connection, role: str | None = None,
                             database: str | None = None) -> list[str]:
    """ALTER ROLE <role> IN DATABASE <database> SET ... for every session setting (docs/scaling.md).

    Defaults: the connection's role and database. Settings cannot be bound parameters in ALTER ROLE,
    so the statements are composed with psycopg's quoting of identifiers and literals.
    """
    if role is None or database is None:
        row = _session_settings(conn, ["timezone"])[0]
        role, database = row["role_name"], row["database_name"]
    return [
        pgsql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {};").format(
            pgsql.Identifier(role), pgsql.Identifier(database), pgsql.Identifier(name), pgsql.Literal(value),
        ).as_string(conn)
        for name, value in wanted_session_settings(settings).items()
    ]


def connect_timeout(settings: Settings) -> int:
    """Seconds to wait for the server to accept a connection: the pool's wait, at least 1."""
    return max(1, int(settings.pool_timeout))


def connection_kwargs(settings: Settings, *, statement_timeout_ms: int | None = None,
                      direct: bool = False) -> dict[str, Any]:
    """Keyword arguments of psycopg.connect shared by the pool and connect().

    DB_POOL_MODE=transaction (and not `direct`): the server connection behind this one changes
    between transactions (PgBouncer), so nothing may rely on session state. No server-side
    prepared statements (psycopg would prepare after 5 executions; on another client's server
    connection the name finds nothing, clashes, or runs that client's statement and returns its
    rows), and no start-up `options` (PgBouncer drops them): the session settings come from
    ALTER ROLE ... SET instead, checked at start-up (cms.db.migrations.check_session_settings).
    """
    timeout = settings.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "row_factory": dict_row,
        "connect_timeout": connect_timeout(settings),
    }
    if settings.db_pool_mode == "transaction" and not direct:
        kwargs["prepare_threshold"] = None
    else:
        kwargs["options"] = session_options(timeout)
    return kwargs


def connect(database_url: str | None = None, *, settings: Settings | None = None,
            statement_timeout_ms: int | None = None, direct: bool = False, **overrides: Any) -> psycopg.Connection:
    """A one-off connection (autocommit, dict rows) with the pool's session settings and timeouts.

    `settings` default to the environment's (DB_STATEMENT_TIMEOUT_MS, DB_POOL_TIMEOUT,
    DATABASE_URL, DB_POOL_MODE); `statement_timeout_ms` overrides the statement timeout for
    callers that run deliberately long statements; `direct=True` for a connection to PostgreSQL
    itself (DATABASE_DIRECT_URL, see direct_url()), which keeps its session whatever DB_POOL_MODE
    says. Other keywords go to psycopg.connect (e.g. `autocommit=False`, `connect_timeout=2`).
    Use it as a context manager to close it.
    """
    settings = settings or load_settings()
    url = database_url or settings.database_url
    kwargs = {**connection_kwargs(settings, statement_timeout_ms=statement_timeout_ms, direct=direct), **overrides}
    return psycopg.connect(url, **kwargs)


class SessionRequired(Exception):
    """A tool that needs a session was asked to go through a transaction pooler."""


def direct_url(settings: Settings, tool: str) -> str:
    """The URL for tools that need a whole session on PostgreSQL itself (migrations, seed, backup,
    restore, demo data): DATABASE_DIRECT_URL, else DATABASE_URL unless that is a transaction pooler.

    dbmate and psql run scripts across statements, pg_dump/pg_restore hold a snapshot and locks,
    demo data uses temporary tables: through PgBouncer in transaction mode each would break halfway.
    """
    if settings.database_direct_url:
        return settings.database_direct_url
    if settings.db_pool_mode == "transaction":
        raise SessionRequired(
            f"{tool} needs a session on PostgreSQL itself, but DB_POOL_MODE=transaction says DATABASE_URL "
            "goes through a transaction pooler: set DATABASE_DIRECT_URL to the database server's own address"
        )
    return settings.database_url


def redact(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def one_line(error: BaseException) -> str:
    """A psycopg error's message on one line (libpq's reasons span several)."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())
