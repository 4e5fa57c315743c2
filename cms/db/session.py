"""One way to open a connection: the pool's and every one-off connection's settings.

The pool (cms/db/pool.py) and every other connection of the service (CLI, backup and
restore, demo data, schema docs, the notification worker) get the same session
settings and timeouts from here, so a statement runs alike wherever it comes from.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row

from cms.config import Settings, load_settings

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


def connect_timeout(settings: Settings) -> int:
    """Seconds to wait for the server to accept a connection: the pool's wait, at least 1."""
    return max(1, int(settings.pool_timeout))


def connection_kwargs(settings: Settings, *, statement_timeout_ms: int | None = None) -> dict[str, Any]:
    """Keyword arguments of psycopg.connect shared by the pool and connect()."""
    timeout = settings.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    return {
        "autocommit": True,
        "row_factory": dict_row,
        "options": session_options(timeout),
        "connect_timeout": connect_timeout(settings),
    }


def connect(database_url: str | None = None, *, settings: Settings | None = None,
            statement_timeout_ms: int | None = None, **overrides: Any) -> psycopg.Connection:
    """A one-off connection (autocommit, dict rows) with the pool's session settings and timeouts.

    `settings` default to the environment's (DB_STATEMENT_TIMEOUT_MS, DB_POOL_TIMEOUT,
    DATABASE_URL); `statement_timeout_ms` overrides the statement timeout for callers that
    run deliberately long statements; other keywords go to psycopg.connect (e.g.
    `autocommit=False`, `connect_timeout=2`). Use it as a context manager to close it.
    """
    settings = settings or load_settings()
    url = database_url or settings.database_url
    kwargs = {**connection_kwargs(settings, statement_timeout_ms=statement_timeout_ms), **overrides}
    return psycopg.connect(url, **kwargs)


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
