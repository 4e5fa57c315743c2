"""The `cms` command: db up/status/rollback/seed and create-admin, on DATABASE_URL only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.app import atob_payload
from support.databases import applied_versions, connect, database_url_for, drop_database, unique_database_name

from cms import cli, db
from cms.cli import serve

CMS = str(Path(sys.executable).parent / "cms")
CONFIG_VARIABLES = ("APP_ENV", "JWT_SECRET", "DB_POOL_MIN", "DB_POOL_MAX", "PORT", "BCRYPT_ROUNDS")


def run_cms(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `cms ...` with DATABASE_URL as its only setting (no JWT secret, no APP_ENV, no .env)."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES and not k.startswith("PYTEST")}
    env["DATABASE_URL"] = url
    return subprocess.run([CMS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def new_database_url():
    """The URL of a database that does not exist yet (`cms db up` creates it); dropped afterwards."""
    name = unique_database_name("cli")
    yield database_url_for(name)
    drop_database(name)


def test_cms_db_commands_and_create_admin_work_on_database_url(new_database_url, tmp_path, make_app):
    url = new_database_url
    latest = db.latest_migration_file_version()

    # Before `db up` the database does not exist: commands fail with a message, not a trace.
    missing = run_cms(url, tmp_path, "create-admin", "--email", "root@example.com", "--password", "Str0ng-pass!")
    assert missing.returncode != 0
    assert "cannot create the admin" in missing.stderr and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

    up = run_cms(url, tmp_path, "db", "up")
    assert up.returncode == 0, up.stderr
    assert applied_versions(url)[-1] == latest

    rollback = run_cms(url, tmp_path, "db", "rollback", "--yes")
    assert rollback.returncode == 0, rollback.stderr
    assert latest not in applied_versions(url)

    status = run_cms(url, tmp_path, "db", "status")
    assert status.returncode == 0, status.stderr
    assert f"[ ] {latest}_" in status.stdout and "[X] 0001_" in status.stdout
    assert run_cms(url, tmp_path, "db", "up").returncode == 0

    seed = run_cms(url, tmp_path, "db", "seed")
    assert seed.returncode == 0, seed.stderr
    assert "seed.sql loaded" in seed.stdout

    created = run_cms(url, tmp_path, "create-admin", "--email", "Root@Example.com ", "--name", "Root",
                      "--password", "Str0ng-pass!")
    assert created.returncode == 0, created.stderr
    assert "admin Root@Example.com created" in created.stdout
    for email in ("root@example.com", "ｒoot@example.com"):  # the second with a fullwidth r
        again = run_cms(url, tmp_path, "create-admin", "--email", email, "--password", "Other-pass1")
        assert again.returncode != 0
        assert "already exists" in again.stderr and "Traceback" not in again.stderr
    look_alike = run_cms(url, tmp_path, "create-admin", "--email", "rооt@example.com", "--password", "Other-pass1")
    assert look_alike.returncode != 0 and "ASCII characters only" in look_alike.stderr

    with connect(url) as conn:
        admins = conn.execute("SELECT name, email, role FROM users WHERE role = 'admin' ORDER BY id").fetchall()
    assert admins == [
        {"name": "Admin User", "email": "admin@example.com", "role": "admin"},
        {"name": "Root", "email": "Root@Example.com", "role": "admin"},
    ]
    client = make_app(database_url=url).test_client()
    login = client.post("/api/auth/login", json={"email": "root@example.com", "password": "Str0ng-pass!"})
    assert login.status_code == 200
    assert atob_payload(login.get_json()["token"])["role"] == "admin"


@pytest.fixture
def runner(monkeypatch, tmp_path):
    for name in (*CONFIG_VARIABLES, "DATABASE_URL"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_create_admin_refuses_a_short_password_or_a_bad_email(runner, database_url, monkeypatch, sql):
    monkeypatch.setenv("DATABASE_URL", database_url)
    short = runner.invoke(cli.main, ["create-admin", "--email", "a@example.com", "--password", "short"])
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    bad = runner.invoke(cli.main, ["create-admin", "--email", "not-an-email", "--password", "Long-enough1"])
    assert bad.exit_code != 0 and "not a valid email" in bad.output.lower()
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0


def test_create_admin_prompts_for_the_password_when_not_given(runner, database_url, monkeypatch, sql):
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = runner.invoke(cli.main, ["create-admin", "--email", "p@example.com"], input="Prompted-1\nPrompted-1\n")
    assert result.exit_code == 0, result.output
    row = sql.execute("SELECT role, password_hash FROM users WHERE email = 'p@example.com'").fetchone()
    assert row["role"] == "admin"
    assert row["password_hash"].startswith("$2b$10$")


def test_commands_without_database_url_say_so(runner):
    for args in (["db", "status"], ["db", "seed"], ["create-admin", "--email", "a@example.com", "--password", "x" * 8]):
        result = runner.invoke(cli.main, args)
        assert result.exit_code != 0
        assert "DATABASE_URL is not set" in result.output


def test_a_malformed_setting_is_a_clean_cli_error(runner, monkeypatch):
    monkeypatch.setenv("PORT", "abc")
    result = runner.invoke(cli.main, ["db", "status"])
    assert result.exit_code != 0
    assert "PORT must be a whole number" in result.output
    assert isinstance(result.exception, SystemExit)


def test_db_rollback_asks_first_outside_development(runner, fresh_database, monkeypatch):
    url = fresh_database("rollback")
    db.run_dbmate(url, "up")
    latest = db.latest_migration_file_version()
    monkeypatch.setenv("DATABASE_URL", url)

    # APP_ENV unset is production: the operator is asked, and "no" (or no answer at all) keeps it.
    for answer in ("n\n", ""):
        kept = runner.invoke(cli.main, ["db", "rollback"], input=answer)
        assert kept.exit_code == 1 and "Aborted" in kept.output
        assert f"Undo migration {latest} on {url} (APP_ENV=production)?" in kept.output
        assert applied_versions(url)[-1] == latest

    confirmed = runner.invoke(cli.main, ["db", "rollback"], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert latest not in applied_versions(url)

    second = applied_versions(url)[-1]
    unasked = runner.invoke(cli.main, ["db", "rollback", "--yes"])
    assert unasked.exit_code == 0 and "Undo migration" not in unasked.output
    assert second not in applied_versions(url)

    monkeypatch.setenv("APP_ENV", "development")
    third = applied_versions(url)[-1]
    development = runner.invoke(cli.main, ["db", "rollback"])
    assert development.exit_code == 0 and "Undo migration" not in development.output
    assert third not in applied_versions(url)


def test_cms_serve_without_a_server_nor_the_embedded_extra_says_what_to_do(runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "pgserver", None)  # the wheel without `cms[embedded]`
    monkeypatch.setattr(serve, "_local_server_url", lambda: None)
    result = runner.invoke(cli.main, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: no PostgreSQL answers on 127.0.0.1:5432 and the embedded one is not installed: "
        "set DATABASE_URL, or pip install 'cms[embedded]'"]
