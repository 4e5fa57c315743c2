"""The DBA's documents stay true: docs/schema.md and docs/queries.md match a fresh rendering,
every table and column carries a comment, query comments name real indexes, and the SQL
files pass sqlfluff and squawk (test_sql_lint_*: run alone with `pytest -k sql_lint`)."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from cms.cli.docs import docs
from cms.db import QUERIES
from cms.operations.schema_docs import index_names, parse_query_doc, render_queries_markdown, render_schema_markdown

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_MD = ROOT / "docs" / "schema.md"
QUERIES_MD = ROOT / "docs" / "queries.md"
BIN = Path(sys.executable).parent


def _stale_message(path: Path, fresh: str, command: str) -> str:
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = list(difflib.unified_diff(committed.splitlines(), fresh.splitlines(),
                                     f"{path.name} (committed)", f"{path.name} (fresh)", lineterm="", n=1))
    shown = "\n".join(diff[:60]) + ("\n..." if len(diff) > 60 else "")
    return f"{path.relative_to(ROOT)} is stale: run `{command}` and commit the result\n{shown}"


def test_schema_md_matches_the_migrated_database(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        fresh = render_schema_markdown(conn)
    committed = SCHEMA_MD.read_text(encoding="utf-8") if SCHEMA_MD.exists() else ""
    if committed != fresh:
        pytest.fail(_stale_message(SCHEMA_MD, fresh, "cms docs schema"), pytrace=False)


def test_queries_md_matches_the_query_files():
    fresh = render_queries_markdown(QUERIES)
    committed = QUERIES_MD.read_text(encoding="utf-8") if QUERIES_MD.exists() else ""
    if committed != fresh:
        pytest.fail(_stale_message(QUERIES_MD, fresh, "cms docs queries"), pytrace=False)


def test_schema_md_names_no_database_and_draws_every_foreign_key(database_url, sql):
    with psycopg.connect(database_url, autocommit=True) as conn:
        text = render_schema_markdown(conn)
    database = sql.execute("SELECT current_database() AS name").fetchone()["name"]
    assert database not in text
    assert "```mermaid\nerDiagram\n" in text
    foreign_keys = sql.execute(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent"
        " FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    ).fetchall()
    assert foreign_keys
    drawn = {(line.split()[0], line.split()[2]) for line in text.splitlines()
             if line.startswith("    ") and " : " in line and "--" in line}
    for fk in foreign_keys:
        assert (fk["parent"], fk["child"]) in drawn, fk

def test_every_table_and_column_has_a_comment(sql):
    missing = sql.execute(
        """
        SELECT c.relname AS table_name, a.attname AS column_name
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
          AND (
              (a.attnum IS NULL AND NOT EXISTS (
                  SELECT 1 FROM pg_description AS d
                  WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0))
              OR (a.attnum IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM pg_description AS d
                  WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = a.attnum))
          )
        UNION ALL
        SELECT c.relname, NULL
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
          AND NOT EXISTS (
              SELECT 1 FROM pg_description AS d
              WHERE d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0)
        ORDER BY 1, 2
        """
    ).fetchall()
    described = [f"{row['table_name']}.{row['column_name']}" if row["column_name"] else row["table_name"]
                 for row in missing]
    assert described == [], "add COMMENT ON in the migration that creates: " + ", ".join(described)


def test_query_comments_name_indexes_that_exist(sql):
    existing = {row["indexname"] for row in sql.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").fetchall()}
    unknown = [
        f"{item.file}:{item.name} -> {name}"
        for item in QUERIES.values()
        for name in index_names(parse_query_doc(item.doc).index)
        if name not in existing
    ]
    assert unknown == [], "query comments name indexes that do not exist: " + "; ".join(unknown)


def test_every_query_says_what_it_is_for_and_who_uses_it():
    undocumented = [f"{item.file}:{item.name}" for item in QUERIES.values()
                    if not parse_query_doc(item.doc).purpose or not parse_query_doc(item.doc).used_by]
    assert undocumented == [], "each query comment needs a purpose and 'Used by: <routes>': " + ", ".join(
        undocumented)


def test_query_comment_parsing_splits_purpose_routes_and_index():
    doc = parse_query_doc(
        "One user by email, trimmed. Used by: POST /api/auth/login, cms create-admin. "
        "Index: users_email_lower_unique (lower(btrim(email)))."
    )
    assert doc.purpose == "One user by email, trimmed"
    assert doc.used_by == "POST /api/auth/login, cms create-admin"
    assert doc.index == "users_email_lower_unique (lower(btrim(email)))"
    assert index_names(doc.index) == ["users_email_lower_unique"]
    bare = parse_query_doc("Every user. Used by: POST/PUT /api/cars/:carId/images...")
    assert (bare.used_by, bare.index) == ("POST/PUT /api/cars/:carId/images...", "")
    assert index_names("a_idx, b_idx (x first)") == ["a_idx", "b_idx"]


def test_docs_commands_write_and_check_the_files(database_url, tmp_path):
    runner = CliRunner()
    target = tmp_path / "schema.md"
    written = runner.invoke(docs, ["schema", "--database-url", database_url, "--output", str(target)])
    assert written.exit_code == 0, written.output
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert target.read_text(encoding="utf-8") == render_schema_markdown(conn)
    checked = runner.invoke(docs, ["schema", "--database-url", database_url, "--output", str(target), "--check"])
    assert checked.exit_code == 0, checked.output

    queries = tmp_path / "queries.md"
    queries.write_text("stale\n", encoding="utf-8")
    stale = runner.invoke(docs, ["queries", "--output", str(queries), "--check"])
    assert stale.exit_code == 1
    assert "cms docs queries" in stale.output
    assert runner.invoke(docs, ["queries", "--output", str(queries)]).exit_code == 0
    assert queries.read_text(encoding="utf-8") == render_queries_markdown(QUERIES)


def test_every_migration_starts_by_saying_why():
    for path in sorted((ROOT / "sql" / "migrations").glob("*.sql")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("-- Why:"), f"{path.name} must start with '-- Why: ...'"


# --- SQL lint (sqlfluff: .sqlfluff; squawk: .squawk.toml) --------------------------------

def _run(*command: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


# sqlfluff over every SQL file took over 240 s on a 2-core machine at load 20 (a failure that said
# nothing about the SQL); the limits only stop a hung run.
@pytest.mark.timeout(900)
def test_sql_lint_sqlfluff_finds_nothing():
    result = _run(str(BIN / "sqlfluff"), "lint", "--processes", "1", "--disable-progress-bar",
                  "--nocolor", "sql", "seed.sql", timeout=840)
    if result.returncode != 0:
        pytest.fail(f"sqlfluff findings (`make fmt-sql` fixes most):\n{result.stdout}{result.stderr}", pytrace=False)


def test_sql_lint_squawk_finds_nothing():
    migrations = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "sql" / "migrations").glob("*.sql"))
    result = _run(str(BIN / "squawk"), "--reporter", "gcc", *migrations)
    if result.returncode != 0:
        pytest.fail("squawk findings: fix each one or excuse it with a reason (docs/dba.md):\n"
                    + result.stdout + result.stderr, pytrace=False)
