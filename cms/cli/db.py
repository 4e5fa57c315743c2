"""`cms db up|status|rollback|seed`: migrations (dbmate on sql/migrations) and seed.sql."""

from __future__ import annotations

import click

from cms.cli.common import run_dbmate, run_seed, session_database_url


@click.group("db")
def db_group() -> None:
    """Migrations (dbmate) and demo data, on DATABASE_URL."""


@db_group.command("up")
def db_up() -> None:
    """Create the database if missing and apply every pending migration."""
    run_dbmate(session_database_url("cms db up (dbmate)"), "up")


@db_group.command("status")
def db_status() -> None:
    """List applied and pending migrations."""
    run_dbmate(session_database_url("cms db status (dbmate)"), "status")


@db_group.command("rollback")
def db_rollback() -> None:
    """Undo the newest applied migration."""
    run_dbmate(session_database_url("cms db rollback (dbmate)"), "rollback")


@db_group.command("seed")
def db_seed() -> None:
    """Load seed.sql (demo accounts and cars); safe to run again."""
    run_seed(session_database_url("cms db seed (psql)"))
    click.echo("seed.sql loaded")
