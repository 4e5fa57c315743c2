"""`cms docs schema`, `cms docs queries`, `cms docs settings`: regenerate docs/schema.md, docs/queries.md
and the README's settings table."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import psycopg

from cms import config, db
from cms.cli.common import settings
from cms.operations import schema_docs
from cms.resources import PACKAGED_ROOT

# The documents live in the repository's docs/. An installed wheel has no repository around it
# (db.ROOT is the package's copy of the SQL files): without --output the commands refuse there
# rather than compare with, or write into, site-packages.
DOCS_DIR = db.ROOT / "docs"
IN_CHECKOUT = db.ROOT != PACKAGED_ROOT


def _target(output: Path | None, name: str) -> Path:
    if output is not None:
        return output
    if not IN_CHECKOUT:
        raise click.ClickException(
            f"cms docs keeps docs/{name} of a checkout, and this cms is an installed package: "
            "run it in a checkout, or pass --output FILE"
        )
    return DOCS_DIR / name


def _write_or_check(path: Path, content: str, check: bool, command: str) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if check:
        if current != content:
            click.echo(f"{path} is stale: run `{command}`", err=True)
            sys.exit(1)
        click.echo(f"{path} is up to date")
        return
    if current == content:
        click.echo(f"{path} unchanged")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    click.echo(f"{path} written")


@click.group("docs")
def docs() -> None:
    """Generate the documents a DBA reads: docs/schema.md and docs/queries.md."""


@docs.command("schema")
@click.option("--database-url", envvar="DATABASE_URL", default=None,
              help="A migrated database (default: DATABASE_URL, also read from .env).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write or check (default: docs/schema.md of the checkout).")
@click.option("--check", is_flag=True, help="Only compare: exit 1 when the file differs.")
def docs_schema(database_url: str | None, output: Path | None, check: bool) -> None:
    """Write docs/schema.md from the schema of a migrated database."""
    output = _target(output, "schema.md")
    url = database_url or settings().database_url
    if not url:
        raise click.ClickException("DATABASE_URL is not set: pass --database-url or set it (see .env.example)")
    try:
        with db.connect(url) as conn:
            content = schema_docs.render_schema_markdown(conn)
    except psycopg.errors.UndefinedTable:
        raise click.ClickException("the database is not migrated (no schema_migrations): run `cms db up`") from None
    except psycopg.Error as error:
        raise click.ClickException(f"cannot read the schema: {error}".strip()) from None
    _write_or_check(output, content, check, "cms docs schema")


@docs.command("queries")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write or check (default: docs/queries.md of the checkout).")
@click.option("--check", is_flag=True, help="Only compare: exit 1 when the file differs.")
def docs_queries(output: Path | None, check: bool) -> None:
    """Write docs/queries.md from the named queries in sql/queries/."""
    output = _target(output, "queries.md")
    _write_or_check(output, schema_docs.render_queries_markdown(db.load_queries()), check, "cms docs queries")


@docs.command("settings")
@click.option("--readme", type=click.Path(dir_okay=False, path_type=Path), default=db.ROOT / "README.md",
              show_default=True)
@click.option("--check", is_flag=True, help="Only compare: exit 1 when the table differs.")
def docs_settings(readme: Path, check: bool) -> None:
    """Write the README's Configuration table from the settings declared in cms/config.py."""
    _write_or_check(readme, config.readme_with_table(readme.read_text(encoding="utf-8")), check, "cms docs settings")
