"""Backups with `cms backup` and restores with `cms restore`, against the real PostgreSQL server.

Each test fills its own fresh, migrated database, runs the commands as a separate process
(as cron or an operator would) and compares the databases table by table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from support.databases import ADMIN_URL, database_url_for, drop_database, unique_database_name

from cms import db
from cms.operations import backup as backups

CMS = Path(sys.executable).parent / "cms"
OPS = [sys.executable, "-m", "cms.cli"]
BACKUP_NAME = re.compile(r"^cms-(?P<db>.+)-\d{8}T\d{6}Z(-\d+)?\.dump$")
PHOTO = os.urandom(300_000)  # incompressible, so the dump has a data section worth truncating
EVERY_BYTE = bytes(range(256)) * 4


def run_ops(*args: str, database_url: str | None, cwd: Path, path_prefix: Path | None = None):
    """Run `python -m cms.cli ARGS` (the commands `cms backup` / `cms restore`) in its own process."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([*OPS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def database_exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def dbname_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture
def new_database_name():
    """Names of databases that do not exist yet (a restore creates them); dropped after the test."""
    names = []

    def make(label: str = "restored") -> str:
        name = unique_database_name(label)
        names.append(name)
        return name

    yield make
    for name in names:
        drop_database(name)


def migrated(fresh_database, label: str) -> str:
    url = fresh_database(label)
    db.run_dbmate(url, "up")
    return url


def fill(url: str) -> None:
    """Rows in every main table, with the awkward values a dump must carry over exactly."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn, conn.transaction():
        def insert(table: str, **values) -> dict:
            values = {k: Jsonb(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
            statement = pgsql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
                pgsql.Identifier(table),
                pgsql.SQL(", ").join(pgsql.Identifier(k) for k in values),
                pgsql.SQL(", ").join(pgsql.Placeholder(k) for k in values),
            )
            return conn.execute(statement, values).fetchone()

        admin = insert("users", name="Ada 'Admin'", email="ada@example.com", password_hash="$2b$10$x", role="admin")
        seller = insert("users", name="Søren \"Seller\" Ørsted", email="soren@example.com", password_hash="$2b$10$y",
                        role="seller", phone=None, address="Line 1\nLine 2\tTabbed \\ backslash")
        buyer = insert("users", name="Bob 🚗", email="bob@example.com", password_hash="$2b$10$z", is_active=False)
        cars = [
            insert("cars", title="Golf", price=12345.67, seller_id=seller["id"], status="sold", brand="VW",
                   model="Golf", year=2015, fuel_type="Diesel", description="Ünïcödé, commas, \"quotes\""),
            insert("cars", title="Model 3", price=39999.00, seller_id=seller["id"], status="available",
                   brand="Tesla", model="3", year=2021, fuel_type="Electric", description=None),
            insert("cars", title="Panda", price=0, seller_id=seller["id"], status="rejected",
                   rejection_reason="Blurry photos", brand="Fiat", model="Panda", year=2009),
        ]
        insert("orders", car_id=cars[0]["id"], buyer_id=buyer["id"], seller_id=seller["id"], final_price=12345.67,
               status="paid", documents=[{"name": "contract.pdf", "pages": 3}])
        insert("orders", car_id=cars[1]["id"], buyer_id=buyer["id"], seller_id=seller["id"], final_price=39999.00,
               status="cancelled", documents=[])
        insert("reviews", car_id=cars[0]["id"], user_id=buyer["id"], user_name="Bob", rating=5, comment="Great")
        insert("reviews", car_id=cars[1]["id"], user_id=buyer["id"], user_name="Bob", rating=1, comment=None)
        insert("favorites", user_id=buyer["id"], car_id=cars[1]["id"])
        insert("inquiries", car_id=cars[1]["id"], user_id=buyer["id"], seller_id=seller["id"],
               message="Test drive on Friday?", type="test_drive", requested_date="2024-03-01",
               status="responded", response="Yes, 10:00")
        images = [
            insert("car_images", car_id=cars[0]["id"], image_url=None, is_primary=True, display_order=0),
            insert("car_images", car_id=cars[0]["id"], image_url=None, is_primary=False, display_order=1),
            insert("car_images", car_id=cars[1]["id"], image_url="/images/car1.png", is_primary=True),
        ]
        for image, content in ((images[0], PHOTO), (images[1], EVERY_BYTE)):
            insert("car_image_files", image_id=image["id"], content_type="image/jpeg", content=content,
                   byte_size=len(content), width=640, height=480, etag=f"etag-{image['id']}")
        insert("admin_actions", admin_id=admin["id"], action_type="approve_car", target_id=cars[1]["id"],
               details={"note": "ok", "nested": {"list": [1, 2.5, None, "x"]}})


def counter(url: str) -> int:
    """The change counter behind public reads' ETags (data_version)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version FROM data_version").fetchone()[0]


def snapshot(url: str) -> dict:
    """Row count and checksum of every table, sequence positions, and the schema's indexes,
    constraints, triggers and functions."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        rows = {}
        for schema, table in tables:
            statement = pgsql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {} AS t"
            ).format(pgsql.Identifier(schema, table))
            rows[f"{schema}.{table}"] = conn.execute(statement).fetchone()
        # A restore moves the change counter on (cms restore: advance_data_version); its row count stays.
        rows["public.data_version"] = (rows["public.data_version"][0], "the change counter")
        return {
            "rows": rows,
            "sequences": conn.execute(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
            ).fetchall(),
            # Names and kinds only: PostgreSQL prints a re-created `varchar IN (...)` CHECK or index
            # predicate with its casts in another place, equivalent but not the same text.
            "indexes": conn.execute(
                "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, i.indisunique, "
                "i.indpred IS NOT NULL FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid "
                "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1, 2"
            ).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
            ).fetchall(),
            "triggers": conn.execute(
                "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE NOT tgisinternal ORDER BY 1, 2"
            ).fetchall(),
            "functions": conn.execute(
                "SELECT proname, pg_get_functiondef(oid) FROM pg_proc "
                "WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2"
            ).fetchall(),
        }


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def backup_file(source: str, tmp_path: Path) -> Path:
    result = backups.backup_database(source, tmp_path / "backups")
    assert result.path.stat().st_mode & 0o777 == 0o600  # it holds password hashes
    return result.path


# --- round trip -----------------------------------------------------------------------------

def test_backup_and_restore_into_a_new_database_keep_every_row_and_the_schema(
    fresh_database, new_database_name, tmp_path
):
    source = migrated(fresh_database, "bksrc")
    fill(source)
    before = snapshot(source)
    assert before["rows"]["public.users"][0] == 3
    assert before["rows"]["public.car_image_files"][0] == 2
    assert before["rows"]["public.schema_migrations"][0] == len(list(db.MIGRATIONS_DIR.glob("[0-9]*_*.sql")))

    made = run_ops("backup", "--dir", str(tmp_path / "backups"), database_url=source, cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    [name] = files_in(tmp_path / "backups")
    assert BACKUP_NAME.match(name).group("db") == dbname_of(source)
    dump = tmp_path / "backups" / name
    assert dump.read_bytes()[:5] == b"PGDMP"
    assert f"backup written: {dump}" in made.stdout
    size = backups.human_size(dump.stat().st_size)
    assert f"({size}, {len(before['rows'])} tables," in made.stdout
    assert re.search(rf'dumping table public\.users \(\d+/{len(before["rows"])}\), [\d.]+ [KM]?B written',
                     made.stderr)

    target = new_database_name()
    restored = run_ops("restore", str(dump), "--target-db", target, database_url=source, cwd=tmp_path)

    assert restored.returncode == 0, restored.stderr
    assert f"into new database '{target}'" in restored.stdout
    assert re.search(rf"restoring table public\.car_image_files \(\d+/{len(before['rows'])}\)", restored.stderr)
    assert snapshot(database_url_for(target)) == before
    assert counter(database_url_for(target)) > counter(source)  # no tag of the source matches the restored data
    with psycopg.connect(database_url_for(target)) as conn:
        contents = [row[0] for row in conn.execute("SELECT content FROM car_image_files ORDER BY image_id")]
        assert contents == [PHOTO, EVERY_BYTE]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE cars SET status = 'bogus'")
    assert snapshot(source) == before  # the backup changed nothing in the source
    status = db.run_dbmate(database_url_for(target), "status", "--exit-code", check=False)
    assert status.returncode == 0, status.stdout + status.stderr  # migrated as far as the source: the app starts


def test_restore_into_an_existing_empty_database_with_the_python_functions(fresh_database, tmp_path):
    source = migrated(fresh_database, "bksrc")
    fill(source)
    dump = backup_file(source, tmp_path)
    target = fresh_database("bkempty")
    messages = []

    result = backups.restore_database(dump, target, progress=messages.append)

    assert (result.created, result.cleaned) == (False, False)
    assert result.tables == len(snapshot(source)["rows"])
    assert snapshot(target) == snapshot(source)
    assert any(m.startswith("restoring table public.users (") for m in messages)


# --- non-empty targets ----------------------------------------------------------------------

def dump_and_busy_target(fresh_database, tmp_path):
    """A filled source database, its dump, and a migrated target that already holds a live row."""
    source = migrated(fresh_database, "bksrc")
    fill(source)
    dump = backup_file(source, tmp_path)
    target = migrated(fresh_database, "bkbusy")
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("INSERT INTO users (name, email, password_hash) VALUES ('Live', 'live@example.com', 'x')")
    return source, dump, target


def test_restore_refuses_a_non_empty_database_without_force_and_changes_nothing(fresh_database, tmp_path):
    source, dump, target = dump_and_busy_target(fresh_database, tmp_path)
    before = snapshot(target)

    refused = run_ops("restore", str(dump), "--target-url", target, database_url=source, cwd=tmp_path)

    assert refused.returncode == 1
    server = urlsplit(target).netloc.rsplit("@", 1)[-1]  # 127.0.0.1:5432, or the embedded server's port
    assert f"database '{dbname_of(target)}' on {server} is not empty" in refused.stderr
    assert "public.admin_actions" in refused.stderr
    assert "--force" in refused.stderr
    assert snapshot(target) == before


def test_restore_with_force_replaces_the_backed_up_objects_of_a_non_empty_database(fresh_database, tmp_path):
    source, dump, target = dump_and_busy_target(fresh_database, tmp_path)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE TABLE scratch_notes (id int PRIMARY KEY)")

    forced = run_ops("restore", str(dump), "--target-url", target, "--force", database_url=None, cwd=tmp_path)

    assert forced.returncode == 0, forced.stderr
    assert "into cleaned database" in forced.stdout
    # Objects the backup does not know are left alone; the objects of the backup now match the source.
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DROP TABLE scratch_notes")
    assert snapshot(target) == snapshot(source)


# --- retention ------------------------------------------------------------------------------

def test_backup_keep_n_deletes_the_oldest_backups_of_that_database_only(fresh_database, tmp_path):
    source = migrated(fresh_database, "bksrc")
    dbname = dbname_of(source)
    directory = tmp_path / "backups"
    directory.mkdir()
    old = [f"cms-{dbname}-20200101T000000Z.dump", f"cms-{dbname}-20210101T000000Z.dump"]
    unrelated = ["cms-otherdb-20190101T000000Z.dump", "notes.txt"]
    for name in old + unrelated:
        (directory / name).write_bytes(b"old")

    first = run_ops("backup", "--dir", str(directory), "--keep", "2", database_url=source, cwd=tmp_path)
    second = run_ops("backup", "--dir", str(directory), "--keep", "2", database_url=source, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert f"removed old backup {directory / old[0]}" in first.stdout
    assert f"removed old backup {directory / old[1]}" in second.stdout
    names = files_in(directory)
    ours = [n for n in names if n.startswith(f"cms-{dbname}-")]
    assert len(ours) == 2
    assert not set(old) & set(names)
    assert set(unrelated) <= set(names)
    for name in ours:
        assert (directory / name).read_bytes()[:5] == b"PGDMP"


def test_backup_refuses_keep_zero(tmp_path):
    result = run_ops("backup", "--dir", str(tmp_path), "--keep", "0", database_url=ADMIN_URL, cwd=tmp_path)

    assert result.returncode == 2
    assert "--keep" in result.stderr
    assert files_in(tmp_path) == []


# --- bad files ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a backup\n" * 10, "{dump} is not a readable pg_dump custom-format archive"),
        (b"CREATE TABLE t (id int);\n" * 10, "{dump} is not a readable pg_dump custom-format archive"),
        (None, "backup file {dump} does not exist"),
    ],
    ids=["garbage", "plain-sql", "missing"],
)
def test_restore_refuses_a_bad_file_before_touching_anything(content, message, new_database_name, tmp_path):
    dump = tmp_path / "broken.dump"
    if content is not None:
        dump.write_bytes(content)
    target = new_database_name()

    result = run_ops("restore", str(dump), "--target-db", target, database_url=ADMIN_URL, cwd=tmp_path)

    assert result.returncode == 1
    assert f"Error: restore failed: {message.format(dump=dump)}" in result.stderr
    assert not database_exists(target)


def test_restore_of_a_truncated_backup_fails_and_drops_the_database_it_created(
    fresh_database, new_database_name, tmp_path
):
    source = migrated(fresh_database, "bksrc")
    fill(source)
    dump = backup_file(source, tmp_path)
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    target = new_database_name()

    result = run_ops("restore", str(truncated), "--target-db", target, database_url=source, cwd=tmp_path)

    assert result.returncode == 1
    assert "pg_restore failed" in result.stderr
    assert "nothing was restored" in result.stderr
    assert not database_exists(target)


# --- failing backups ------------------------------------------------------------------------

def server_major() -> int:
    with psycopg.connect(ADMIN_URL) as conn:
        return conn.info.server_version // 10000


def fake_pg_dump(directory: Path, body: str, major: int) -> Path:
    """A pg_dump stand-in first on PATH: answers --version with `major`, otherwise runs `body`."""
    directory.mkdir()
    script = directory / "pg_dump"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) {major}.9 (Fake)"; exit 0; fi
        for arg in "$@"; do case "$arg" in --file=*) file="${{arg#--file=}}";; esac; done
    """) + textwrap.dedent(body))
    script.chmod(0o755)
    return directory


def test_backup_refuses_a_server_newer_than_pg_dump(tmp_path):
    major = server_major()
    bin_dir = fake_pg_dump(tmp_path / "bin", "echo 'pg_dump must not run' >&2; exit 3\n", major - 1)

    result = run_ops("backup", "--dir", str(tmp_path / "backups"), database_url=ADMIN_URL, cwd=tmp_path,
                     path_prefix=bin_dir)

    assert result.returncode == 1
    assert f"the server runs PostgreSQL {major} but pg_dump is version {major - 1}" in result.stderr
    assert f"postgresql-client-{major}" in result.stderr
    assert "must not run" not in result.stderr
    assert not (tmp_path / "backups").exists()


def test_a_failed_pg_dump_leaves_no_file_behind(tmp_path):
    bin_dir = fake_pg_dump(tmp_path / "bin", """\
        printf 'PGDMP half a dump' > "$file"
        echo 'pg_dump: dumping contents of table "public.users"' >&2
        echo 'pg_dump: error: Dumping the contents of table "users" failed: connection lost' >&2
        exit 1
    """, server_major())
    directory = tmp_path / "backups"

    result = run_ops("backup", "--dir", str(directory), database_url=ADMIN_URL, cwd=tmp_path, path_prefix=bin_dir)

    assert result.returncode == 1
    assert "Error: backup failed: pg_dump failed (exit code 1)" in result.stderr
    assert 'Dumping the contents of table "users" failed: connection lost' in result.stderr
    assert files_in(directory) == []  # not even the temporary file


def test_backup_needs_a_reachable_database(tmp_path):
    unset = run_ops("backup", "--dir", str(tmp_path), database_url="", cwd=tmp_path)
    unreachable = run_ops("backup", "--dir", str(tmp_path), database_url="postgresql://root@127.0.0.1:1/cms",
                          cwd=tmp_path)

    assert unset.returncode == 1
    assert "DATABASE_URL is not set" in unset.stderr
    assert unreachable.returncode == 1
    assert "Error: backup failed: cannot connect to database 'cms' on 127.0.0.1:1" in unreachable.stderr
    assert files_in(tmp_path) == []


def test_restore_takes_either_target_url_or_target_db(tmp_path):
    result = run_ops("restore", "x.dump", "--target-url", "postgresql://h/db", "--target-db", "db",
                     database_url=None, cwd=tmp_path)

    assert result.returncode == 2
    assert "either --target-url or --target-db" in result.stderr


def test_passwords_go_to_the_client_tools_through_the_environment_only():
    conninfo, env = backups._client_arguments("postgresql://app:s3cr%40t@db.example.com:6543/cms?sslmode=require")

    assert "s3cr" not in conninfo
    assert "dbname=cms" in conninfo and "port=6543" in conninfo and "sslmode=require" in conninfo
    assert env["PGPASSWORD"] == "s3cr@t"


# --- wiring ---------------------------------------------------------------------------------

def test_cms_command_offers_backup_and_restore(tmp_path):
    result = subprocess.run([str(CMS), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+backup\s", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+restore\s", result.stdout, re.MULTILINE)


# --- who may read a backup, and its name ----------------------------------------------------

def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_backup_and_its_temporary_file_are_0600_whatever_the_umask(tmp_path):
    """pg_dump (a stand-in recording the mode of the file it writes) under umask 000."""
    bin_dir = fake_pg_dump(tmp_path / "bin", """\
        stat -c %a "$file" > "$MODE_FILE"
        printf 'PGDMP a dump' > "$file"
        exit 0
    """, server_major())
    directory = tmp_path / "new" / "backups"
    env = {**os.environ, "DATABASE_URL": ADMIN_URL, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "MODE_FILE": str(tmp_path / "partial-mode")}
    result = subprocess.run([*OPS, "backup", "--dir", str(directory)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120, preexec_fn=lambda: os.umask(0))

    assert result.returncode == 0, result.stderr
    (written,) = directory.iterdir()
    assert BACKUP_NAME.match(written.name) and written.read_bytes() == b"PGDMP a dump"
    assert (tmp_path / "partial-mode").read_text().strip() == "600"
    assert mode(written) == 0o600
    assert mode(directory) == 0o700


ADMIN_DB = conninfo_to_dict(ADMIN_URL)["dbname"]
SLOW_FAKE_DUMP = """\
    sleep 0.5
    printf 'PGDMP %s' "$$" > "$file"
    exit 0
"""


def test_backups_started_in_the_same_second_get_a_file_each(tmp_path, monkeypatch):
    """Two at once (threads, each with its own pg_dump) and a third, all at the same time of day."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    bin_dir = fake_pg_dump(tmp_path / "bin", SLOW_FAKE_DUMP, server_major())
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(backups, "_moment", lambda: datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    directory = tmp_path / "backups"
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda _: backups.backup_database(ADMIN_URL, directory), range(2)))
    after = backups.backup_database(ADMIN_URL, directory)

    stem = f"cms-{ADMIN_DB}-20300102T030405Z"
    paths = [result.path for result in [*together, after]]
    assert sorted(path.name for path in paths) == [f"{stem}-2.dump", f"{stem}-3.dump", f"{stem}.dump"]
    assert files_in(directory) == sorted(path.name for path in paths)  # no temporary file left
    assert len({path.read_bytes() for path in paths}) == 3  # three dumps, none written over another
    assert all(mode(path) == 0o600 for path in paths)
    assert paths[2].name == f"{stem}-3.dump" == backups.list_backups(directory, ADMIN_DB)[-1].name


def test_two_cms_backup_commands_at_once_both_succeed_with_two_files(tmp_path):
    bin_dir = fake_pg_dump(tmp_path / "bin", SLOW_FAKE_DUMP, server_major())
    directory = tmp_path / "backups"
    env = {**os.environ, "DATABASE_URL": ADMIN_URL, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    runs = [subprocess.Popen([*OPS, "backup", "--dir", str(directory), "--quiet"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    names = files_in(directory)
    assert len(names) == 2 and all(BACKUP_NAME.match(name) for name in names), names
