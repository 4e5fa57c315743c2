"""`cms backup` and `cms restore`: whole-database backups with pg_dump / pg_restore
(cms/operations/backup.py)."""

from __future__ import annotations

import click

from cms.cli.common import session_database_url
from cms.operations import backup as backups


def _progress(quiet: bool):
    return None if quiet else (lambda message: click.echo(message, err=True))


@click.command("backup")
@click.option("--dir", "directory", default=backups.DEFAULT_DIRECTORY, show_default=True,
              type=click.Path(file_okay=False), help="Directory for the backup file (created when missing).")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Keep only the N newest backups of this database in the directory; delete older ones.")
@click.option("--quiet", is_flag=True, help="No progress lines; print only the result.")
def backup(directory: str, keep: int | None, quiet: bool) -> None:
    """Back up the whole database (DATABASE_DIRECT_URL, else DATABASE_URL) with pg_dump (custom format).

    The file is named cms-<database>-<UTC time>.dump; it appears only once the dump is complete.
    """
    url = session_database_url("cms backup (pg_dump)")
    try:
        result = backups.backup_database(url, directory, keep=keep, progress=_progress(quiet))
    except backups.BackupError as error:
        raise click.ClickException(f"backup failed: {error}") from None
    for path in result.removed:
        click.echo(f"removed old backup {path}")
    click.echo(
        f"backup written: {result.path} ({backups.human_size(result.size)}, {result.tables} tables, "
        f"{result.seconds:.1f} s)"
    )


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target-url", default=None, help="libpq URL of the database to restore into.")
@click.option("--target-db", default=None,
              help="Name of the database to restore into, on the server of DATABASE_URL.")
@click.option("--force", is_flag=True,
              help="Restore into a non-empty database: drop and recreate the objects of the backup there.")
@click.option("--no-privileges", is_flag=True,
              help="Skip GRANT/REVOKE of the backup (when its roles do not exist on the target server).")
@click.option("--quiet", is_flag=True, help="No progress lines; print only the result.")
def restore(file: str, target_url: str | None, target_db: str | None, force: bool, no_privileges: bool,
            quiet: bool) -> None:
    """Restore a backup FILE into an empty or new database (DATABASE_URL's own database by default).

    A missing target database is created. A target with any table is refused unless --force.
    Object owners are not restored (--no-owner): everything belongs to the user connecting.
    """
    if target_url and target_db:
        raise click.UsageError("give either --target-url or --target-db, not both")
    if target_db is not None and not target_db.strip():
        raise click.UsageError("--target-db must not be empty")
    try:
        backups.archive_table_count(file)  # refuse a missing or unreadable file before anything else
        if target_url:
            url = target_url
        elif target_db:
            url = backups.with_database(session_database_url("cms restore (pg_restore)"), target_db)
        else:
            url = session_database_url("cms restore (pg_restore)")
        result = backups.restore_database(file, url, force=force, no_privileges=no_privileges,
                                          progress=_progress(quiet))
    except backups.BackupError as error:
        raise click.ClickException(f"restore failed: {error}") from None
    how = "new" if result.created else ("cleaned" if result.cleaned else "empty")
    click.echo(f"restored {file} into {how} {result.target} ({result.tables} tables, {result.seconds:.1f} s)")
