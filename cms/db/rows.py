"""Run a named query on a connection and get its result: the helpers every repository uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.string import TextLoader

from cms.db.queries import Query


def fetch_one(conn: psycopg.Connection, q: Query, params: dict | None = None) -> dict | None:
    """First row of the query as a dict, or None."""
    return conn.execute(q.sql, params or {}, prepare=q.prepare).fetchone()


def fetch_all(conn: psycopg.Connection, q: Query, params: dict | None = None) -> list[dict]:
    """Every row of the query as dicts."""
    return conn.execute(q.sql, params or {}, prepare=q.prepare).fetchall()


def fetch_rows(conn: psycopg.Connection, q: Query, params: dict | None = None, *,
               timestamps_as_text: bool = False) -> tuple[list[str], Iterator[tuple]]:
    """The column names and the rows as tuples, converted a batch at a time as they are reached:
    for big results (no dict per row, no list of every row).

    timestamps_as_text: `timestamp` columns stay PostgreSQL's text ('2026-03-04 05:06:07.891234',
    the session's DateStyle is ISO), for callers that print them anyway.
    """
    cursor = conn.cursor(row_factory=tuple_row)
    if timestamps_as_text:
        cursor.adapters.register_loader("timestamp", TextLoader)
    cursor.execute(q.sql, params or {}, prepare=q.prepare)
    result = cursor.pgresult  # the names without building cursor.description's Column objects
    names = [] if result is None else [result.fname(n).decode() for n in range(result.nfields)]
    return names, _batches(cursor)


def _batches(cursor: psycopg.Cursor, size: int = 500) -> Iterator[tuple]:
    with cursor:  # closing it frees libpq's copy of the result as soon as the last row is read
        while rows := cursor.fetchmany(size):
            yield from rows


def fetch_value(conn: psycopg.Connection, q: Query, params: dict | None = None) -> Any:
    """First column of the first row, or None."""
    row = conn.execute(q.sql, params or {}, prepare=q.prepare).fetchone()
    return next(iter(row.values())) if row else None


def execute(conn: psycopg.Connection, q: Query, params: dict | None = None) -> int:
    """Run a statement; returns the number of rows it touched."""
    return conn.execute(q.sql, params or {}, prepare=q.prepare).rowcount
