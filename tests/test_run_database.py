"""Where `make run` (cms serve) finds its database: DATABASE_URL, else, in development only, the
server on 127.0.0.1:5432, else an embedded PostgreSQL whose data survives in ./var/pgdata. Outside
development (APP_ENV=production, or an installed wheel without APP_ENV=development) nothing is
picked: one line, exit status 1."""

import os
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from support import database_server

from cms import resources
from cms.cli import serve
from cms.config import Settings

CMS = str(Path(sys.executable).parent / "cms")


@pytest.fixture
def no_app_env(monkeypatch, tmp_path):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    return monkeypatch


def test_database_url_wins():
    assert serve.resolve_database_url(Settings(database_url="postgresql://someone@db.example:5432/cms")) == (
        "postgresql://someone@db.example:5432/cms", "DATABASE_URL")


@pytest.mark.skipif(database_server.embedded(), reason="no PostgreSQL server answers on 127.0.0.1:5432 "
                    "(the tests run on an embedded one): nothing to find there")
def test_without_database_url_a_checkout_uses_the_local_server(no_app_env):
    url, source = serve.resolve_database_url(Settings())
    assert url.endswith("@127.0.0.1:5432/cms") and "127.0.0.1:5432" in source


@pytest.mark.parametrize("app_env", ["production", "PRODUCTION"])
def test_outside_development_no_database_is_picked(no_app_env, app_env):
    no_app_env.setenv("APP_ENV", app_env)
    no_app_env.setattr(serve, "_local_server_url", lambda: pytest.fail("looked for a local server"))
    with pytest.raises(click.ClickException, match=r"DATABASE_URL is not set, and outside development "
                       r"\(APP_ENV=production\) no command picks a database by itself"):
        serve.resolve_database_url(Settings(env="production"))


def test_an_installed_wheel_picks_a_database_only_when_told_it_is_development(no_app_env, tmp_path):
    no_app_env.setattr(resources, "ROOT", tmp_path / "site-packages" / "cms" / "_data")
    no_app_env.setattr(serve, "_local_server_url", lambda: "postgresql://me@127.0.0.1:5432/cms")
    with pytest.raises(click.ClickException, match="an installed cms picks no database by itself"):
        serve.resolve_database_url(Settings())
    (tmp_path / ".env").write_text("APP_ENV=development\n")
    assert serve.resolve_database_url(Settings(env="development"))[0] == "postgresql://me@127.0.0.1:5432/cms"


def test_cms_serve_seeds_the_demo_accounts_in_development_only(no_app_env):
    assert serve.seeds_demo_data(Settings())  # a checkout, APP_ENV unset: what `make run` does
    no_app_env.setenv("APP_ENV", "development")
    assert serve.seeds_demo_data(Settings(env="development"))
    no_app_env.setenv("APP_ENV", "production")
    assert not serve.seeds_demo_data(Settings(env="production"))


def test_cms_serve_in_production_without_database_url_is_one_line_and_status_1(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HOST", "PORT")}
    result = subprocess.run([CMS, "serve"], cwd=tmp_path, env={**env, "APP_ENV": "production"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: DATABASE_URL is not set, and outside development (APP_ENV=production) no command picks a database "
        "by itself"]


EMBEDDED = """
import sys
from pathlib import Path
import psycopg
from cms import db
from cms.cli import serve
serve.VAR_DIR = Path(sys.argv[1])
url = serve._embedded_server_url()
db.run_dbmate(url, "up")
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute(sys.argv[2])
    print(conn.execute("SELECT count(*) FROM users").fetchone()[0])
"""


def test_without_a_local_server_an_embedded_one_keeps_its_data(no_app_env, tmp_path):
    no_app_env.setattr(serve, "_local_server_url", lambda: None)
    no_app_env.setattr(serve, "_embedded_server_url", lambda: "postgresql://postgres:@/cms?host=/x")
    assert "embedded" in serve.resolve_database_url(Settings())[1]

    var_dir = tmp_path / "var"
    data_dir = var_dir / "pgdata"
    insert = "INSERT INTO users (name, email, password_hash) VALUES ('Kept', 'kept@example.com', 'x')"

    def run(statement):
        return subprocess.run([sys.executable, "-c", EMBEDDED, str(var_dir), statement],
                              capture_output=True, text=True, timeout=120)

    try:
        first = run(insert)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "1"
        # Stop the server, as a machine restart would; a new process starts it again on the same data.
        subprocess.run(["pkill", "-INT", "-f", str(data_dir)], check=False)
        for _ in range(100):
            if subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        second = run("SELECT 1")
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip() == "1"
    finally:
        subprocess.run(["pkill", "-f", str(data_dir)], check=False)
