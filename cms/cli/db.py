"""`cms db up|status|rollback|seed`: migrations (dbmate on sql/migrations) and seed.sql."""

from __future__ import annotations

import click

from cms.cli.common import database_url, run_dbmate, run_seed


@click.group("db")
def db_group() -> None:
    """Migrations (dbmate) and demo data, on DATABASE_URL."""


@db_group.command("up")
def db_up() -> None:
    """Create the database if missing and apply every pending migration."""
    run_dbmate(database_url(), "up")


@db_group.command("status")
def db_status() -> None:
    """List applied and pending migrations."""
    run_dbmate(database_url(), "status")


@db_group.command("rollback")
def db_rollback() -> None:
    """Undo the newest applied migration."""
    run_dbmate(database_url(), "rollback")


@db_group.command("seed")
def db_seed() -> None:
    """Load seed.sql (demo accounts and cars); safe to run again."""
    run_seed(database_url())
    click.echo("seed.sql loaded")
