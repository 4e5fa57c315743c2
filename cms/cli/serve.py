"""`cms serve`: what `make run` runs: find a database (in development), migrate and seed it, serve with granian."""

from __future__ import annotations

import getpass
import os
import secrets
from pathlib import Path

import click
import psycopg

from cms import config, db, resources, server
from cms.cli.common import run_seed, session_database_url, settings
from cms.config import Settings

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


def picking_refused(current: Settings) -> str | None:
    """Why `cms serve` must not pick a database by itself, or None when it may (development).

    Development is APP_ENV=development or test, or, in a checkout, APP_ENV unset (what `make run`
    has always done). An installed wheel is a server: without an explicit APP_ENV=development it
    picks nothing, and APP_ENV=production never does: the seed's demo accounts have public passwords.
    """
    if config.is_given("APP_ENV"):
        if current.is_development:
            return None
        return f"outside development (APP_ENV={current.env}) no command picks a database by itself"
    if resources.ROOT == resources.REPOSITORY_ROOT:
        return None
    return ("an installed cms picks no database by itself (APP_ENV=development lets `cms serve` use a "
            "local or embedded PostgreSQL for development)")


def seeds_demo_data(current: Settings) -> bool:
    """Whether `cms serve` loads seed.sql: in development only (the same rule as picking a database),
    since the seed's demo accounts have public passwords."""
    return picking_refused(current) is None


def resolve_database_url(current: Settings | None = None) -> tuple[str, str]:
    """DATABASE_URL; else, in development only, the local server on 127.0.0.1:5432, else the embedded one."""
    current = current or settings()
    if current.database_url:
        return current.database_url, "DATABASE_URL"
    refused = picking_refused(current)
    if refused:
        raise click.ClickException(f"DATABASE_URL is not set, and {refused}")
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
@click.option("--no-seed", is_flag=True, help="Do not load seed.sql (outside development it is never loaded).")
def serve(workers: int, threads: int, no_seed: bool) -> None:
    """Find a database, migrate and seed it, then serve with granian (cms.server) on PORT (default 4000).

    Without DATABASE_URL, only in development: the PostgreSQL server on 127.0.0.1:5432, else an
    embedded one (./var/pgdata). Settings, granian and the port are checked before the database.
    """
    current = settings()
    # Development: reachable from this machine only, unless HOST says otherwise (README).
    host = current.host or DEVELOPMENT_HOST
    try:
        server.check_granian_version()
        server.check_address_free(host, current.port)
    except server.CannotStart as error:
        raise click.ClickException(f"cannot start: {error}") from None
    url, source = resolve_database_url(current)
    click.echo(f"database: {db.redact(url)} ({source})")
    # Behind a transaction pooler, migrations and the seed go to DATABASE_DIRECT_URL (or refuse).
    session_url = session_database_url("cms serve (migrations and seed)") if source == "DATABASE_URL" else url
    result = db.run_dbmate(session_url, "up", check=False)
    if result.returncode != 0:
        raise click.ClickException(f"migrations failed:\n{result.stdout}{result.stderr}")
    if not no_seed and seeds_demo_data(current):
        run_seed(session_url)
    elif not no_seed:
        click.echo(f"not seeding: APP_ENV={current.env} (the demo accounts' passwords are public; "
                   "`cms db seed` loads them on purpose)")
    # The workers read their settings from this environment (and .env) again.
    os.environ["DATABASE_URL"] = url
    if not config.is_given("APP_ENV"):  # the environment's or .env's own value stands
        os.environ["APP_ENV"] = "development"
    if not current.jwt_secret:
        os.environ["JWT_SECRET"] = _dev_jwt_secret()
    current = settings()
    shown = "localhost" if host == DEVELOPMENT_HOST else host
    server.serve(current.with_overrides(host=host, web_workers=workers or current.web_workers,
                                        web_threads=threads or current.web_threads),
                 announce=lambda: click.echo(f"serving on http://{shown}:{current.port}"))
