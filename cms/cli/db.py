"""`cms db up|status|rollback|seed`: migrations (dbmate on sql/migrations) and seed.sql."""

from __future__ import annotations

import click

from cms import db
from cms.cli.common import run_dbmate, run_seed, session_database_url, settings


@click.group("db")
def db_group() -> None:
    """Migrations (dbmate) and demo data, on DATABASE_URL."""


@db_group.command("up")
def db_up() -> None:
    """Create the database if missing and apply every pending migration.

    A database that holds rows (an old server's, or this service's before an upgrade) is first
    migrated in a transaction that is rolled back: a migration that would stop leaves it untouched.
    """
    url = session_database_url("cms db up (dbmate)")
    refusal = db.rehearse_migrations(url)
    if refusal:
        raise click.ClickException(f"nothing was changed: {refusal}")
    before = db.applied_versions(url)
    try:
        run_dbmate(url, "up")
    except SystemExit:
        # The rehearsal passed but the real run did not (a lock, a write in between): name what stays.
        applied = [version for version in db.applied_versions(url) if version not in before]
        click.echo(f"cms db up stopped; applied before it stopped (and kept): {', '.join(applied) or 'none'}"
                   + ("; `cms db rollback` undoes them one at a time" if applied else ""), err=True)
        raise


@db_group.command("status")
def db_status() -> None:
    """List applied and pending migrations."""
    run_dbmate(session_database_url("cms db status (dbmate)"), "status")


@db_group.command("rollback")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (outside development it asks).")
def db_rollback(yes: bool) -> None:
    """Undo the newest applied migration (asks first unless APP_ENV is development or test)."""
    url = session_database_url("cms db rollback (dbmate)")
    current = settings()
    if not yes and not current.is_development:
        applied = db.applied_versions(url)
        newest = applied[-1] if applied else "none"
        click.confirm(f"Undo migration {newest} on {db.redact(url)} (APP_ENV={current.env})?", abort=True)
    run_dbmate(url, "rollback")


@db_group.command("seed")
def db_seed() -> None:
    """Load seed.sql (demo accounts and cars); safe to run again."""
    run_seed(session_database_url("cms db seed"))
    click.echo("seed.sql loaded")
