"""`cms serve`: what `make run` runs: find a database, migrate and seed it, serve with granian."""

from __future__ import annotations

import getpass
import os
import secrets
from pathlib import Path

import click
import psycopg

from cms import db, server
from cms.cli.common import run_seed, session_database_url, settings
from cms.config import load_settings

VAR_DIR = Path.cwd() / "var"  # the embedded PostgreSQL's data and the development JWT secret
DEVELOPMENT_HOST = "127.0.0.1"


def _local_server_url() -> str | None:
    """postgresql://<user>@127.0.0.1:5432/cms when a server answers there."""
    user = os.environ.get("PGUSER") or getpass.getuser()
    try:
        db.connect(f"postgresql://{user}@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except psycopg.Error:
        return None
    return f"postgresql://{user}@127.0.0.1:5432/cms"


def _embedded_server_url() -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives in ./var/pgdata."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR_DIR))
    try:
        import pgserver  # the `embedded` extra: development only, not a requirement of the wheel
    except ImportError:
        raise click.ClickException(
            "no PostgreSQL answers on 127.0.0.1:5432 and the embedded one is not installed: "
            "set DATABASE_URL, or pip install 'cms[embedded]'"
        ) from None

    data_dir = VAR_DIR / "pgdata"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    return f"postgresql://postgres:@/cms?host={server.pgdata}"


def resolve_database_url() -> tuple[str, str]:
    """DATABASE_URL, else the local server on 127.0.0.1:5432, else the embedded one."""
    configured = os.environ.get("DATABASE_URL") or load_settings().database_url
    if configured:
        return configured, "DATABASE_URL"
    local = _local_server_url()
    if local:
        return local, "the PostgreSQL server on 127.0.0.1:5432"
    return _embedded_server_url(), "the embedded PostgreSQL in ./var/pgdata"


def _dev_jwt_secret() -> str:
    path = VAR_DIR / "jwt-secret"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@click.command("serve")
@click.option("--workers", type=int, help="Worker processes (default: WEB_WORKERS, 2).")
@click.option("--threads", type=int, help="Threads per worker (default: WEB_THREADS, 4).")
@click.option("--no-seed", is_flag=True, help="Do not load seed.sql.")
def serve(workers: int, threads: int, no_seed: bool) -> None:
    """Find a database, migrate and seed it, then serve with granian (cms.server) on PORT (default 4000)."""
    url, source = resolve_database_url()
    click.echo(f"database: {db.redact(url)} ({source})")
    # Behind a transaction pooler, migrations and the seed go to DATABASE_DIRECT_URL (or refuse).
    session_url = session_database_url("cms serve (migrations and seed)") if source == "DATABASE_URL" else url
    result = db.run_dbmate(session_url, "up", check=False)
    if result.returncode != 0:
        raise click.ClickException(f"migrations failed:\n{result.stdout}{result.stderr}")
    if not no_seed:
        run_seed(session_url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("APP_ENV", "development")
    if not os.environ.get("JWT_SECRET"):
        os.environ["JWT_SECRET"] = _dev_jwt_secret()
    current = settings()
    # Development: reachable from this machine only, unless HOST says otherwise (README).
    host = current.host or DEVELOPMENT_HOST
    shown = "localhost" if host == DEVELOPMENT_HOST else host
    click.echo(f"serving on http://{shown}:{current.port}")
    server.main(["--host", host, "--port", str(current.port), "--workers", str(workers or current.web_workers),
                 "--threads", str(threads or current.web_threads)])
