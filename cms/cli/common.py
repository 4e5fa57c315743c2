"""What every command group shares: the database URL from the settings, progress lines."""

from __future__ import annotations

import sys

import click
import psycopg

from cms import db
from cms.config import ConfigError, Settings, load_settings


def settings() -> Settings:
    """The settings of the environment (and .env); a bad one is a one-line error."""
    try:
        return load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def database_url(required: bool = True) -> str:
    """DATABASE_URL (also read from .env); a missing one is a one-line error unless not required."""
    url = settings().database_url
    if not url and required:
        raise click.ClickException("DATABASE_URL is not set (see .env.example)")
    return url


def session_database_url(tool: str) -> str:
    """The database for a tool that needs a session on PostgreSQL itself (db.direct_url):
    DATABASE_DIRECT_URL, else DATABASE_URL, refused when that goes through a transaction pooler."""
    try:
        url = db.direct_url(settings(), tool)
    except db.SessionRequired as error:
        raise click.ClickException(str(error)) from None
    if not url:
        raise click.ClickException("DATABASE_URL is not set (see .env.example)")
    return url


def run_dbmate(url: str, *args: str) -> None:
    """dbmate on the migrations; its output passed through, its exit status kept."""
    result = db.run_dbmate(url, *args, check=False)
    click.echo(result.stdout, nl=False)
    click.echo(result.stderr, nl=False, err=True)
    if result.returncode != 0:
        sys.exit(result.returncode)


def run_seed(url: str) -> None:
    """Load seed.sql; a failure is a one-line error with PostgreSQL's reason."""
    try:
        db.run_seed(url)
    except psycopg.Error as error:
        raise click.ClickException(f"seed failed: {db.one_line(error)}") from None
