"""Query plans as PostgreSQL really runs them, for the plan tests and the benchmark.

A statement that psycopg has run five times on one connection is prepared on the server, and
from then on PostgreSQL may run it with a generic plan: one plan for any parameter values,
chosen without knowing them. `explain` shows that plan (plan_cache_mode=force_generic_plan)
or the custom one, for a named query and its parameters.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql as pgsql

from cms.db.queries import Query

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_STATEMENT = "cms_plan_check"


def _numbered(text: str) -> tuple[str, list[str]]:
    """The query with $1, $2… instead of %(name)s placeholders (and % for psycopg's %%), and the
    names in that order."""
    names = list(dict.fromkeys(_PLACEHOLDER.findall(text)))
    return _PLACEHOLDER.sub(lambda match: f"${names.index(match.group(1)) + 1}", text).replace("%%", "%"), names


def explain(conn: psycopg.Connection, query: Query, params: dict, *, generic: bool, analyze: bool = True) -> dict:
    """EXPLAIN (FORMAT JSON) of the query prepared on the server and executed with `params`:
    the document's first element (Plan, Execution Time…). Every placeholder needs a cast in
    the query text (they all have one in the list queries), so PostgreSQL infers its type."""
    text, names = _numbered(query.sql)
    conn.execute(pgsql.SQL("PREPARE {} AS ").format(pgsql.Identifier(_STATEMENT)) + pgsql.SQL(text))
    try:
        conn.execute(pgsql.SQL("SET plan_cache_mode = {}").format(
            pgsql.Literal("force_generic_plan" if generic else "force_custom_plan")))
        options = pgsql.SQL("ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON")
        values = pgsql.SQL(", ").join(pgsql.Literal(params.get(name)) for name in names)
        arguments = pgsql.SQL(" ({})").format(values) if names else pgsql.SQL("")  # none: no brackets
        row = conn.execute(pgsql.SQL("EXPLAIN ({}) EXECUTE {}{}").format(
            options, pgsql.Identifier(_STATEMENT), arguments)).fetchone()
    finally:
        conn.execute("RESET plan_cache_mode")
        conn.execute(pgsql.SQL("DEALLOCATE {}").format(pgsql.Identifier(_STATEMENT)))
    document = row[0] if isinstance(row, tuple) else next(iter(row.values()))
    return document[0]


def rows_read(plan: dict, tables: frozenset[str], totals: dict[str, int] | None = None) -> dict[str, int]:
    """Rows each of `tables` gave to an EXPLAIN ANALYZE plan, including those its filters threw away."""
    totals = {} if totals is None else totals
    if plan.get("Relation Name") in tables:
        rows = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        rows += plan.get("Rows Removed by Index Recheck", 0)
        totals[plan["Relation Name"]] = totals.get(plan["Relation Name"], 0) + rows * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", []):
        rows_read(child, tables, totals)
    return totals


def executed_sequential_scans(plan: dict, tables: frozenset[str]) -> list[str]:
    """The tables read by a Seq Scan that ran (a plan's skipped branches never run theirs)."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in tables and plan.get("Actual Loops"):
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += executed_sequential_scans(child, tables)
    return found
