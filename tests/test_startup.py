"""Start-up refuses an unreachable or unmigrated database with one clear line, not a stack trace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import pq
from support.app import TEST_JWT_SECRET, app_config
from support.databases import create_database, drop_database, unique_database_name
from support.live_server import free_port

from cms import create_app, db
from cms.db import StartupError
from cms.db import queries as sql

ROOT = db.ROOT
UNREACHABLE = "postgresql://root@127.0.0.1:1/cms"


def test_an_unreachable_database_is_a_startup_error_with_the_reason():
    started = time.monotonic()
    with pytest.raises(StartupError) as raised:
        create_app(app_config(UNREACHABLE, pool_timeout=1.0))
    message = str(raised.value)
    assert time.monotonic() - started < 5
    assert message.startswith("cannot reach the database at postgresql://root@127.0.0.1:1/cms")
    assert "refused" in message.lower()
    assert "\n" not in message


def test_the_password_is_not_shown_in_the_startup_error():
    with pytest.raises(StartupError) as raised:
        create_app(app_config("postgresql://root:hunter2@127.0.0.1:1/cms", pool_timeout=1.0))
    assert "hunter2" not in str(raised.value)
    assert ":***@" in str(raised.value)


def test_an_unknown_database_is_a_startup_error_naming_it(database_url):
    missing = database_url.rsplit("/", 1)[0] + "/cms_test_no_such_database"
    with pytest.raises(StartupError, match='database "cms_test_no_such_database" does not exist'):
        create_app(app_config(missing))


@pytest.fixture(scope="module")
def empty_database():
    """One empty, unmigrated database for the tests of this module (they only read it)."""
    name = unique_database_name("empty")
    url = create_database(name)
    yield url
    drop_database(name)


def test_an_unmigrated_database_is_a_startup_error_about_migrations(empty_database):
    with pytest.raises(StartupError) as raised:
        create_app(app_config(empty_database))
    assert "migrations" in str(raised.value)
    assert "cms db up" in str(raised.value)


def test_a_database_behind_the_code_is_a_startup_error_naming_both_versions(database_url, monkeypatch):
    applied = db.latest_migration_file_version()
    monkeypatch.setattr(db.migrations, "latest_migration_file_version", lambda: "9999")
    with pytest.raises(StartupError) as raised:
        create_app(app_config(database_url))
    message = str(raised.value)
    assert f"at migration {applied}" in message and "needs 9999" in message
    assert "cms db up" in message


def server_environment(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DB_", "CMS_"))}
    env.update(APP_ENV="production", JWT_SECRET=TEST_JWT_SECRET, DATABASE_URL=database_url,
               PORT=str(free_port()), WEB_WORKERS="1", WEB_THREADS="1", PUBLIC_BASE_URL="http://127.0.0.1")
    return env


def serve_command(env: dict) -> list[str]:
    """What production runs: the checks, then granian (cms/server.py)."""
    return [sys.executable, "-m", "cms.server", "--host", "127.0.0.1", "--port", env["PORT"]]


def run_bounded(command: list[str], env: dict, seconds: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds)


@pytest.mark.parametrize("which", ["unreachable", "unmigrated"])
def test_the_server_exits_with_one_clear_line_when_it_cannot_start(empty_database, which):
    url = UNREACHABLE if which == "unreachable" else empty_database
    env = server_environment(url)

    # It exits instead of waiting for the database (run_bounded fails after a generous 20 s).
    result = run_bounded(serve_command(env), env)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot start" in output
    assert "Traceback" not in output
    expected = "cannot reach the database" if which == "unreachable" else "run the migrations"
    assert expected in output


@pytest.mark.parametrize("setting", ["PORT", "WEB_WORKERS", "WEB_THREADS"])
def test_a_setting_of_the_server_that_is_not_a_number_is_one_line_and_status_1(database_url, setting):
    env = {**server_environment(database_url), setting: "abc"}
    result = run_bounded([sys.executable, "-m", "cms.server", "--host", "127.0.0.1"], env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"cms: cannot start: {setting} must be a whole number, got 'abc'"


def test_a_worker_that_cannot_boot_stops_the_server_instead_of_being_respawned(empty_database):
    """Past the start-up checks (skipped here), a worker that exits before it has loaded the app ends
    the server with status 3 and a line naming it, however many times killed workers are respawned."""
    env = server_environment(empty_database)
    serve_without_checks = ("from cms.server import build_server; "
                            f"build_server(host='127.0.0.1', port={env['PORT']}, workers=2, threads=1).serve()")
    result = run_bounded([sys.executable, "-c", serve_without_checks], env)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "cannot start" in output and "run the migrations" in output
    assert re.search(r"worker-\d failed to boot \(exit status 3\); stopping", output), output
    assert "Traceback" not in output


def test_importing_wsgi_without_a_database_exits_with_one_clear_line():
    result = run_bounded([sys.executable, "-c", "import wsgi"], server_environment(UNREACHABLE))
    output = result.stdout + result.stderr
    assert result.returncode == 3
    assert "cannot start: cannot reach the database" in output
    assert "Traceback" not in output


def test_the_server_refuses_a_missing_jwt_secret_outside_development(database_url):
    env = server_environment(database_url)
    env.pop("JWT_SECRET")
    result = run_bounded(serve_command(env), env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot start" in output and "JWT_SECRET" in output
    assert "Traceback" not in output


# --- the query loader: a bad query file or an unknown name fails in a test, never at request time ---

def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_query_file_splits_into_named_documented_statements(tmp_path):
    path = write(tmp_path / "things.sql", (
        "-- name: get_thing\n-- One thing by id.\n-- Used by: GET /things/:id.\n"
        "SELECT id\nFROM things\nWHERE id = %(id)s;\n\n"
        "-- name: count_things\n-- How many things (one value).\nSELECT count(*) FROM things;\n"
    ))
    first, second = sql.parse_query_file(path)
    assert (first.name, first.file) == ("get_thing", "things.sql")
    assert first.doc == "One thing by id. Used by: GET /things/:id."
    assert first.sql == "SELECT id\nFROM things\nWHERE id = %(id)s"
    assert (second.name, second.sql) == ("count_things", "SELECT count(*) FROM things")


@pytest.mark.parametrize(("text", "message"), [
    ("-- name: no_comment\nSELECT 1;\n", "no_comment has no comment line"),
    ("-- name: no_statement\n-- Nothing here.\n", "no_statement has no statement"),
    ("SELECT 1;\n", "no '-- name:' line"),
])
def test_a_malformed_query_file_is_refused(tmp_path, text, message):
    with pytest.raises(sql.QueryFileError, match=message):
        sql.parse_query_file(write(tmp_path / "bad.sql", text))


def test_a_query_name_defined_twice_is_refused_naming_both_files(tmp_path):
    write(tmp_path / "a.sql", "-- name: same\n-- First.\nSELECT 1;\n")
    write(tmp_path / "b.sql", "-- name: same\n-- Second.\nSELECT 2;\n")
    with pytest.raises(sql.QueryFileError, match="same is defined in both a.sql and b.sql"):
        sql.load_queries(tmp_path)


def test_an_unknown_query_name_is_a_lookup_error():
    with pytest.raises(LookupError, match="no_such_query"):
        sql.query("no_such_query")
    assert sql.query("get_user").name == "get_user"


def test_every_query_of_the_repository_parses_and_prepares_on_the_schema(sql_connection):
    queries = sql.load_queries()
    assert queries
    failures = {}
    # A query with a {filters} slot runs with every filter of the list and with none.
    conditions = sql.filter_conditions(queries["car_list_filters"])
    statements = {}
    for name, item in queries.items():
        if "{" + sql.FILTERS_SLOT + "}" in item.sql:
            statements[f"{name} (every filter)"] = sql.with_filters(item, conditions, tuple(conditions), prepare=False)
            statements[f"{name} (no filter)"] = sql.with_filters(item, conditions, (), prepare=None)
        else:
            statements[name] = item
    for name, item in statements.items():
        result = sql_connection.pgconn.prepare(b"", numbered_placeholders(item.sql).encode())
        if result.status != pq.ExecStatus.COMMAND_OK:
            failures[f"{item.file}:{name}"] = (result.error_message or b"").decode().strip()
    assert failures == {}


def numbered_placeholders(statement: str) -> str:
    """psycopg's %(name)s placeholders as the server's $1, $2 (one number per name)."""
    numbers: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%")


@pytest.fixture
def sql_connection(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn
