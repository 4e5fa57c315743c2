"""Named SQL queries, read once from sql/queries/*.sql.

Each query in a file starts with a `-- name: <name>` line, followed by one or
more `-- ` comment lines saying what it returns and which routes use it, then
the statement. Placeholders are psycopg's `%(name)s`. A query may hold a
`{filters}` slot, filled by `with_filters` with conditions taken from another
query whose WHERE clause marks each one with a `-- filter: <name>` line
(`filter_conditions`): fixed text of the files, never the request's. A comment
line starting `Never prepared:` (and saying why) keeps psycopg from preparing the
statement on the server: PostgreSQL then plans every execution for its parameters,
never with a generic plan (for queries whose optional filters a generic plan
cannot use). Repository modules take their queries with `query("name")` at import
time, so a misspelt name stops the service at start-up (and fails the test suite),
never at request time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from psycopg import sql as pgsql

from cms.resources import QUERIES_DIR  # the checkout's files, or the wheel's copy

NEVER_PREPARED = "Never prepared:"
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_FILTER_LINE = re.compile(r"^\s*--\s*filter:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
FILTERS_SLOT = "filters"  # {filters} in a query text: the conditions composed by with_filters
# Every query composed by with_filters so far, by its text (the plan tests name statements with it).
COMPOSED: dict[str, Query] = {}


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    doc: str
    file: str
    prepare: bool | None = None  # psycopg's `prepare`: None lets it prepare after 5 runs, False never


class QueryFileError(Exception):
    """A query file is malformed (duplicate name, empty body, missing comment)."""


def parse_query_file(path: Path) -> list[Query]:
    """Split one .sql file into its named queries."""
    text = path.read_text(encoding="utf-8")
    matches = list(_NAME_LINE.finditer(text))
    if not matches:
        raise QueryFileError(f"{path.name}: no '-- name:' line")
    found = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end():end].strip("\n")
        doc_lines, sql_lines = [], []
        for line in body.splitlines():
            if not sql_lines and line.startswith("--"):
                doc_lines.append(line.lstrip("-").strip())
            else:
                sql_lines.append(line)
        sql = "\n".join(sql_lines).strip().rstrip(";").strip()
        name = match.group(1)
        if not doc_lines:
            raise QueryFileError(f"{path.name}: query {name} has no comment line")
        if not sql:
            raise QueryFileError(f"{path.name}: query {name} has no statement")
        never_prepared = any(line.startswith(NEVER_PREPARED) for line in doc_lines)
        found.append(Query(name=name, sql=sql, doc=" ".join(doc_lines), file=path.name,
                           prepare=False if never_prepared else None))
    return found


def load_queries(directory: Path = QUERIES_DIR) -> dict[str, Query]:
    """Read every query file of the directory; names are unique across files."""
    registry: dict[str, Query] = {}
    for path in sorted(directory.glob("*.sql")):
        for item in parse_query_file(path):
            if item.name in registry:
                raise QueryFileError(
                    f"query {item.name} is defined in both {registry[item.name].file} and {item.file}"
                )
            registry[item.name] = item
    return registry


QUERIES = load_queries()


def query(name: str) -> Query:
    """The named query; raises LookupError (at import of the caller) when unknown."""
    try:
        return QUERIES[name]
    except KeyError:
        raise LookupError(f"no query named {name!r} in {QUERIES_DIR}") from None


def filter_conditions(source: Query) -> dict[str, str]:
    """The conditions of a query whose WHERE clause marks each one with a `-- filter: <name>` line
    (up to the next mark), without their comment lines and the AND that joins them there."""
    marks = list(_FILTER_LINE.finditer(source.sql))
    if not marks:
        raise QueryFileError(f"query {source.name} has no '-- filter:' line")
    conditions = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(source.sql)
        lines = [line.strip() for line in source.sql[mark.end():end].splitlines()
                 if line.strip() and not line.strip().startswith("--")]
        conditions[mark.group(1)] = re.sub(r"^AND\s+", "", " ".join(lines))
    return conditions


def with_filters(template: Query, conditions: dict[str, str], names: tuple[str, ...], *,
                 prepare: bool | None) -> Query:
    """The template with its {filters} slot filled: the named conditions joined with AND (in the
    source query they are joined with AND too, so each means there what it means here), TRUE for
    none. Named after the template and the filters, e.g. `car_list_newest (listed, brand)`."""
    if names:
        condition = pgsql.SQL(" AND ").join(pgsql.SQL(conditions[name]) for name in names)
    else:
        condition = pgsql.SQL("TRUE")
    text = pgsql.SQL(template.sql).format(**{FILTERS_SLOT: condition}).as_string()
    composed = replace(template, name=f"{template.name} ({', '.join(names) or 'no filter'})", sql=text,
                       prepare=prepare)
    COMPOSED[text] = composed
    return composed
