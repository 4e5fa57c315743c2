"""Where `make run` (cms serve) finds its database: DATABASE_URL, else the server on
127.0.0.1:5432, else an embedded PostgreSQL whose data survives in ./var/pgdata."""

import subprocess
import sys
import time

import pytest
from support import database_server

from cms.cli import serve


def test_database_url_wins(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example:5432/cms")
    assert serve.resolve_database_url() == ("postgresql://someone@db.example:5432/cms", "DATABASE_URL")


@pytest.mark.skipif(database_server.embedded(), reason="no PostgreSQL server answers on 127.0.0.1:5432 "
                    "(the tests run on an embedded one): nothing to find there")
def test_without_database_url_the_local_server_is_used(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(serve, "load_settings", _empty)
    url, source = serve.resolve_database_url()
    assert url.endswith("@127.0.0.1:5432/cms") and "127.0.0.1:5432" in source


def _empty():
    from cms.config import Settings

    return Settings()


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


def test_without_a_local_server_an_embedded_one_keeps_its_data(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(serve, "load_settings", _empty)
    monkeypatch.setattr(serve, "_local_server_url", lambda: None)
    monkeypatch.setattr(serve, "_embedded_server_url", lambda: "postgresql://postgres:@/cms?host=/x")
    assert "embedded" in serve.resolve_database_url()[1]

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
