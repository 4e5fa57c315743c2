"""Whole-database backups with pg_dump (custom format) and restores with pg_restore.

A backup is one pg_dump run: pg_dump reads every table inside a single
repeatable-read transaction, so the file is a consistent snapshot even while
the service keeps writing. The dump is written under a hidden temporary name
and named only when pg_dump succeeded, so a file named like a backup is
always a complete one.

A backup holds every row, password hashes included: its file (and the temporary
one) is created 0600 whatever the umask, and a directory the backup creates is
0700. Two backups never share a file, even when started in the same second:
each writes its own temporary file, and naming the complete dump never replaces
an existing one (the second of a second gets `-2`, and so on).

A restore goes into an empty or new database (created on the same server when
missing) inside one transaction: when it fails, nothing of it stays behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cms import db
from cms.db import execute, fetch_all, fetch_value, query

USER_TABLES = query("backup_user_tables")
DATABASE_EXISTS = query("backup_database_exists")
CAN_ADVANCE_DATA_VERSION = query("backup_can_advance_data_version")
ADVANCE_DATA_VERSION = query("backup_advance_data_version")

DEFAULT_DIRECTORY = "backups"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# pg_dump waits this long for a table lock (e.g. behind a running migration) before failing.
LOCK_WAIT_TIMEOUT = "120s"
CONNECT_TIMEOUT = 10
MAINTENANCE_DATABASES = ("postgres", "template1")

_DUMP_TABLE = re.compile(r'^pg_dump: dumping contents of table "(.+)"$')
_RESTORE_TABLE = re.compile(r'^pg_restore: processing data for table "(.+)"$')
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    tables: int
    seconds: float
    removed: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    target: str
    created: bool
    cleaned: bool
    tables: int
    seconds: float


# --- connection strings -----------------------------------------------------------------

def _params(url: str) -> dict[str, str]:
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        raise BackupError(f"the database URL is not valid: {error}") from None


def with_database(url: str, dbname: str) -> str:
    """The connection string of another database on the same server, with the same credentials."""
    return make_conninfo("", **{**_params(url), "dbname": dbname})


def describe(url: str) -> str:
    """'<database> on <host>:<port>', without credentials, for messages."""
    params = _params(url)
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = params.get("dbname") or "(default database)"
    return f"database {dbname!r} on {host}:{port}"


def _client_arguments(url: str) -> tuple[str, dict[str, str]]:
    """Connection string without the password, and an environment carrying it (never on a command line)."""
    params = _params(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    return make_conninfo("", **params), env


def _connect(url: str) -> psycopg.Connection:
    try:
        return db.connect(url, connect_timeout=CONNECT_TIMEOUT, direct=True)
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot connect to {describe(url)}: {str(error).strip()}") from None


# --- client tools -----------------------------------------------------------------------

def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} was not found on PATH: install the PostgreSQL client tools (e.g. postgresql-client)")
    return path


def client_major_version(binary: str) -> int:
    """Major version of pg_dump/pg_restore, from `--version`."""
    try:
        output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise BackupError(f"cannot run {binary} --version: {error}") from None
    match = _VERSION.search(output)
    if not match:
        raise BackupError(f"cannot read the version of {binary} from {output.strip()!r}")
    return int(match.group(1))


def server_major_version(version_num: int) -> int:
    """150020 -> 15; 90624 -> 9 (9.6 and older count as 9)."""
    return version_num // 10000


def check_pg_dump_version(pg_dump_major: int, server_version_num: int) -> None:
    """pg_dump refuses servers newer than itself; say so before it does, with the fix."""
    server_major = server_major_version(server_version_num)
    if server_major > pg_dump_major:
        raise BackupError(
            f"the server runs PostgreSQL {server_major} but pg_dump is version {pg_dump_major}; "
            f"pg_dump must be at least as new as the server: install the PostgreSQL {server_major} client "
            f"tools (e.g. postgresql-client-{server_major}) and put them first on PATH"
        )


def _run_with_progress(
    command: list[str], env: dict[str, str], on_line: Callable[[str], None]
) -> tuple[int, list[str]]:
    """Run a client tool, feeding each stderr line to on_line; returns its exit code and its stderr lines."""
    lines: list[str] = []
    try:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace",
        )
    except OSError as error:
        raise BackupError(f"cannot run {command[0]}: {error}") from None
    try:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.rstrip("\n")
            lines.append(line)
            on_line(line)
        return process.wait(), lines
    except BaseException:
        process.kill()
        process.wait()
        raise


def _error_lines(lines: list[str], tool: str) -> str:
    """The lines of a tool's output worth showing after a failure."""
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()
              or "warning" in line.lower() or "detail" in line.lower() or "hint" in line.lower()]
    shown = errors or [line for line in lines if line.strip()][-10:]
    return "\n".join(shown[-20:]) or f"{tool} gave no message"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# --- backup -----------------------------------------------------------------------------

def _safe_name(dbname: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)


def backup_name_pattern(dbname: str) -> re.Pattern[str]:
    """File names of the backups of one database: cms-<db>-<UTC time>[-n].dump."""
    return re.compile(rf"^cms-{re.escape(_safe_name(dbname))}-(\d{{8}}T\d{{6}}Z)(?:-(\d+))?\.dump$")


def list_backups(directory: Path, dbname: str) -> list[Path]:
    """Backups of this database in the directory, oldest first (by the time in their name)."""
    pattern = backup_name_pattern(dbname)
    found = []
    for path in Path(directory).iterdir():
        match = pattern.match(path.name)
        if match and path.is_file():
            found.append(((match.group(1), int(match.group(2) or 1)), path))
    return [path for _, path in sorted(found)]


def prune_backups(directory: Path, dbname: str, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backups of this database; returns the deleted paths."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    old = list_backups(directory, dbname)[:-keep]
    for path in old:
        path.unlink()
    return old


def _moment() -> datetime:
    return datetime.now(UTC)


def _temporary_file(directory: Path, stem: str) -> Path:
    """A new, empty, hidden file only this backup writes: mode 0600 whatever the umask."""
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".partial", dir=directory)
    os.close(fd)
    return Path(name)


def _name_backup(temporary: Path, directory: Path, stem: str) -> Path:
    """Give the complete dump the first free name of stem.dump, stem-2.dump, …; never replaces a file.

    A hard link takes the name atomically only when it is free; a file system without hard links
    gets the name reserved by an exclusive create, then the dump moved over that reservation.
    """
    number = 1
    while True:
        final = directory / (f"{stem}.dump" if number == 1 else f"{stem}-{number}.dump")
        try:
            os.link(temporary, final)
            return final
        except FileExistsError:
            number += 1
        except OSError:  # no hard links here: reserve the name, then move the dump over the reservation
            try:
                os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                number += 1
                continue
            os.replace(temporary, final)
            return final


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_database(
    url: str,
    directory: str | Path = DEFAULT_DIRECTORY,
    keep: int | None = None,
    progress: Progress | None = None,
) -> BackupResult:
    """Dump the whole database at `url` into a new timestamped custom-format file in `directory`."""
    say = progress or (lambda _message: None)
    if keep is not None and keep < 1:
        raise BackupError("--keep must be at least 1")
    pg_dump = _tool("pg_dump")
    pg_dump_major = client_major_version(pg_dump)
    with _connect(url) as conn:
        check_pg_dump_version(pg_dump_major, conn.info.server_version)
        dbname = conn.info.dbname
        total = sum(1 for row in fetch_all(conn, USER_TABLES) if row["kind"] == "r")

    directory = Path(directory)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stem = f"cms-{_safe_name(dbname)}-{_moment().strftime(TIMESTAMP_FORMAT)}"
        temporary = _temporary_file(directory, stem)
    except OSError as error:
        raise BackupError(f"cannot write into the backup directory {directory}: {error.strerror}") from None
    started = time.monotonic()
    conninfo, env = _client_arguments(url)
    command = [
        pg_dump, "--format=custom", "--verbose", "--no-password",
        f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}", f"--file={temporary}", f"--dbname={conninfo}",
    ]
    say(f"backing up {describe(url)} ({total} tables) to {directory / stem}.dump")
    counter = 0

    def on_line(line: str) -> None:
        nonlocal counter
        match = _DUMP_TABLE.match(line)
        if match:
            counter += 1
            written = temporary.stat().st_size if temporary.exists() else 0
            say(f"dumping table {match.group(1)} ({counter}/{max(total, counter)}), {human_size(written)} written")

    try:
        returncode, lines = _run_with_progress(command, env, on_line)
        if returncode != 0:
            raise BackupError(f"pg_dump failed (exit code {returncode}):\n{_error_lines(lines, 'pg_dump')}")
        _fsync(temporary)
        final = _name_backup(temporary, directory, stem)
        _fsync(directory)
    finally:
        temporary.unlink(missing_ok=True)
    size = final.stat().st_size
    removed = prune_backups(directory, dbname, keep) if keep is not None else []
    return BackupResult(path=final, size=size, tables=counter, seconds=time.monotonic() - started, removed=removed)


# --- restore ----------------------------------------------------------------------------

def archive_table_count(path: str | Path) -> int:
    """Check that the file is a pg_dump custom-format archive; returns how many tables' data it holds."""
    path = Path(path)
    if not path.exists():
        raise BackupError(f"backup file {path} does not exist")
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    pg_restore = _tool("pg_restore")
    result = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        reason = result.stderr.strip().replace("pg_restore: error: ", "") or f"exit code {result.returncode}"
        raise BackupError(f"{path} is not a readable pg_dump custom-format archive: {reason}")
    return sum(1 for line in result.stdout.splitlines() if not line.startswith(";") and " TABLE DATA " in line)


def _maintenance_connection(url: str) -> psycopg.Connection:
    """A connection to the server of `url` that does not use the target database itself."""
    failures = []
    for name in MAINTENANCE_DATABASES:
        try:
            return db.connect(with_database(url, name), connect_timeout=CONNECT_TIMEOUT, direct=True)
        except psycopg.OperationalError as error:
            failures.append(str(error).strip())
    params = _params(url)
    server = f"{params.get('host') or 'localhost'}:{params.get('port') or '5432'}"
    raise BackupError(f"cannot connect to the server at {server}: {failures[-1]}")


def _contents(url: str) -> str:
    """What the database holds ('3 tables (public.a, public.b, public.c) and 2 other objects'), '' when empty."""
    with _connect(url) as conn:
        rows = fetch_all(conn, USER_TABLES)
    tables = [f"{row['schema_name']}.{row['table_name']}" for row in rows if row["kind"] in ("r", "p", "f")]
    others = len(rows) - len(tables)
    parts = []
    if tables:
        listed = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        parts.append(f"{len(tables)} table{'s' if len(tables) != 1 else ''}: {listed}")
    if others:
        parts.append(f"{others} view{'s' if others != 1 else ''} or sequence{'s' if others != 1 else ''}")
    return "; ".join(parts)


def restore_database(
    file: str | Path,
    target_url: str,
    force: bool = False,
    no_privileges: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore a custom-format backup into the database at `target_url`, creating it when missing.

    A target holding any table, view or sequence is refused unless `force` (then the objects of
    the backup are dropped and recreated: pg_restore --clean --if-exists).
    """
    say = progress or (lambda _message: None)
    total = archive_table_count(file)
    dbname = _params(target_url).get("dbname")
    if not dbname:
        raise BackupError("the target URL names no database")
    target = describe(target_url)

    with _maintenance_connection(target_url) as conn:
        exists = fetch_value(conn, DATABASE_EXISTS, {"name": dbname})
        created = False
        if not exists:
            say(f"creating {target}")
            try:
                # template0: an empty database, free of anything added to template1 on this server.
                conn.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE template0").format(pgsql.Identifier(dbname)))
            except psycopg.Error as error:
                raise BackupError(f"cannot create {target}: {str(error).strip()}") from None
            created = True

    cleaned = False
    if not created:
        contents = _contents(target_url)
        if contents:
            if not force:
                raise BackupError(
                    f"{target} is not empty (it has {contents}); restore into a new database "
                    "(--target-db NAME) or pass --force to drop and recreate the objects of the backup in it"
                )
            say(f"{target} is not empty (it has {contents}); --force: dropping and recreating what the backup holds")
            cleaned = True

    pg_restore = _tool("pg_restore")
    conninfo, env = _client_arguments(target_url)
    command = [
        pg_restore, "--verbose", "--no-password", "--no-owner", "--single-transaction", "--exit-on-error",
        f"--dbname={conninfo}",
    ]
    if cleaned:
        command += ["--clean", "--if-exists"]
    if no_privileges:
        command.append("--no-privileges")
    command.append(str(file))
    say(f"restoring {file} into {target} ({total} tables)")
    started = time.monotonic()
    counter = 0

    def on_line(line: str) -> None:
        nonlocal counter
        match = _RESTORE_TABLE.match(line)
        if match:
            counter += 1
            say(f"restoring table {match.group(1)} ({counter}/{max(total, counter)})")

    try:
        returncode, lines = _run_with_progress(command, env, on_line)
    except BaseException:
        if created:
            _drop_created_database(target_url, dbname)
        raise
    if returncode != 0:
        message = (
            f"pg_restore failed (exit code {returncode}); nothing was restored:\n"
            f"{_error_lines(lines, 'pg_restore')}"
        )
        if created:
            _drop_created_database(target_url, dbname)
            message += f"\nthe new {target} was dropped again"
        raise BackupError(message)
    _advance_data_version(target_url)
    return RestoreResult(
        target=target, created=created, cleaned=cleaned, tables=counter, seconds=time.monotonic() - started,
    )


def _advance_data_version(url: str) -> None:
    """Move the restored change counter past every number issued before (migration 0042 on): a
    client may hold the restored number with newer data, as a tag is read before its data."""
    with _connect(url) as conn:
        if fetch_value(conn, CAN_ADVANCE_DATA_VERSION):
            execute(conn, ADVANCE_DATA_VERSION)


def _drop_created_database(url: str, dbname: str) -> None:
    """Drop the database this restore created (never one that existed before)."""
    with _maintenance_connection(url) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {}").format(pgsql.Identifier(dbname)))
