"""The `cms` command: database chores, an admin account, the development server."""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from pathlib import Path

import click
import psycopg

from cms import db
from cms.config import ConfigError, load_settings

ROOT = db.ROOT  # the checkout, or the wheel's copy of its files (cms/resources.py)
VAR_DIR = Path.cwd() / "var"
DEVELOPMENT_HOST = "127.0.0.1"  # the embedded PostgreSQL's data and the development JWT secret


def _database_url() -> str:
    try:
        url = load_settings().database_url
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if not url:
        raise click.ClickException("DATABASE_URL is not set (see .env.example)")
    return url


def _dbmate(*args: str) -> None:
    result = db.run_dbmate(_database_url(), *args, check=False)
    click.echo(result.stdout, nl=False)
    click.echo(result.stderr, nl=False, err=True)
    if result.returncode != 0:
        sys.exit(result.returncode)


@click.group()
def main() -> None:
    """CMS car marketplace service."""


@main.group("db")
def db_group() -> None:
    """Migrations (dbmate) and demo data, on DATABASE_URL."""


@db_group.command("up")
def db_up() -> None:
    """Create the database if missing and apply every pending migration."""
    _dbmate("up")


@db_group.command("status")
def db_status() -> None:
    """List applied and pending migrations."""
    _dbmate("status")


@db_group.command("rollback")
def db_rollback() -> None:
    """Undo the newest applied migration."""
    _dbmate("rollback")


@db_group.command("seed")
def db_seed() -> None:
    """Load seed.sql (demo accounts and cars); safe to run again."""
    try:
        db.run_seed(_database_url())
    except Exception as error:  # noqa: BLE001
        raise click.ClickException(f"seed failed: {getattr(error, 'stderr', '') or error}") from None
    click.echo("seed.sql loaded")


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account (or fail if the email is taken).

    Needs only DATABASE_URL (no JWT secret, no pool): one connection, one transaction.
    """
    from marshmallow import ValidationError, validate

    from cms.auth import hash_password
    from cms.errors import AppError
    from cms.repositories import users as users_repo

    email = email.strip()
    try:
        validate.Email()(email)
    except ValidationError:
        raise click.ClickException(f"{email!r} is not a valid email address") from None
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    url = _database_url()
    settings = load_settings()
    try:
        password_hash = hash_password(password, rounds=settings.bcrypt_rounds)
    except AppError as error:
        raise click.ClickException(error.message) from None
    try:
        with db.connect(url, settings=settings) as conn, conn.transaction():
            if users_repo.email_taken(conn, email):
                raise click.ClickException(f"an account with email {email} already exists")
            user = users_repo.insert_user(conn, name=name, email=email, password_hash=password_hash, role="admin")
    except psycopg.Error as error:
        raise click.ClickException(f"cannot create the admin in {db.redact(url)}: {db.one_line(error)}") from None
    click.echo(f"admin {user['email']} created with id {user['id']}")


# --- development server -------------------------------------------------------------

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
    import pgserver

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


@main.command("serve")
@click.option("--workers", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
@click.option("--no-seed", is_flag=True, help="Do not load seed.sql.")
def serve(workers: int, threads: int, no_seed: bool) -> None:
    """Find a database, migrate and seed it, then run gunicorn on PORT (default 4000)."""
    url, source = resolve_database_url()
    click.echo(f"database: {db.redact(url)} ({source})")
    result = db.run_dbmate(url, "up", check=False)
    if result.returncode != 0:
        raise click.ClickException(f"migrations failed:\n{result.stdout}{result.stderr}")
    if not no_seed:
        try:
            db.run_seed(url)
        except Exception as error:  # noqa: BLE001
            raise click.ClickException(f"seed failed: {getattr(error, 'stderr', '') or error}") from None
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("APP_ENV", "development")
    if not os.environ.get("JWT_SECRET"):
        os.environ["JWT_SECRET"] = _dev_jwt_secret()
    try:
        settings = load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    args = [
        sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
        # Development: reachable from this machine only, unless HOST says otherwise (README).
        "--bind", f"{settings.host or DEVELOPMENT_HOST}:{settings.port}",
        "--workers", str(workers), "--threads", str(threads),
        "cms.wsgi:app",
    ]
    shown = "localhost" if not settings.host or settings.host == DEVELOPMENT_HOST else settings.host
    click.echo(f"serving on http://{shown}:{settings.port}")
    os.execv(args[0], args)


def _register_subcommands() -> None:
    """Commands kept in modules of their own (backups, notifications)."""
    from cms import cli_ops
    from cms.cli_demo import demo_data
    from cms.cli_docs import docs
    from cms.cli_outbox import outbox_worker

    cli_ops.register(main)
    main.add_command(outbox_worker)
    main.add_command(docs)
    main.add_command(demo_data)


_register_subcommands()
