"""`dbmate up` adopts a database of the old Node server in place.

The fixture of every test here is `tests/legacy_schema.sql`, a copy of the team's
`shared/legacy-schema.sql`: the old deployments' own DDL (NOT NULL where they have it), filled
with rows as they really are there (tests/legacy_rows.py), multi-megabyte data: URLs included.

Decision (migration 0002): rows that break a new constraint are repaired, never
dropped silently. Statuses and types are normalised (`SOLD` → `sold`,
`Test Drive` → `test_drive`) or, when unknown, set to the column's default;
`approved` cars become `available`; ratings are clamped into 1–5; the older
of duplicate reviews is removed; a second primary image is demoted; a second
sale of a car is cancelled; double-encoded JSON is decoded. Unknown or
differently spelt roles become `user` (never a privilege the old server did
not grant). Every change is written to `legacy_row_repairs` with the original
value (the whole row for removed rows), and the down section puts them back.
Emails equal up to letter case cannot be repaired: the migration stops and
names them. data: URLs move into car_image_files (0008, after 0000 lets
image_url hold NULL); those that do not decode move into legacy_row_repairs (0017), and their
rows, with neither link nor bytes, are no images: removed whole and recorded (0036).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from support.databases import (
    LEGACY_HASH,
    LEGACY_PASSWORD,
    applied_versions,
    connect,
    count_rows,
    create_database,
    drop_database,
    load_legacy_schema,
    public_tables,
    unique_database_name,
)
from support.legacy_rows import (
    BROKEN_IMAGES,
    DETAILS,
    DOCUMENTS,
    EXPECTED_REPAIRS,
    LEGACY_ROWS,
    LEGACY_TABLES,
    PLAIN_LINKS,
    STORED_IMAGES,
    insert_legacy_rows,
    snapshot,
)

from cms import cli, db

OLD_PASSWORD = LEGACY_PASSWORD
OLD_HASH = LEGACY_HASH


@pytest.fixture
def legacy_database(fresh_database):
    """An old deployment's database: the old schema, old rows, no migration applied yet."""
    url = fresh_database("legacy")
    load_legacy_schema(url)
    insert_legacy_rows(url)
    return url


@pytest.fixture(scope="module")
def adopted():
    """One old database adopted by `dbmate up` (shared by the read-only tests of this module):
    (url, rows before, dbmate's result)."""
    name = unique_database_name("adopted")
    url = create_database(name)
    try:
        load_legacy_schema(url)
        insert_legacy_rows(url)
        before = snapshot(url)
        result = db.run_dbmate(url, "up", check=False)
        yield url, before, result
    finally:
        drop_database(name)


def test_dbmate_up_adopts_an_old_database_keeping_every_row(adopted):
    legacy_database, before, result = adopted
    assert result.returncode == 0, result.stdout + result.stderr
    assert applied_versions(legacy_database)[-1] == db.latest_migration_file_version()

    with connect(legacy_database) as conn:
        counts = {table: count_rows(conn, table) for table in LEGACY_TABLES}
        repairs = conn.execute("SELECT * FROM legacy_row_repairs ORDER BY id").fetchall()
        users = {row["id"]: row for row in conn.execute("SELECT * FROM users")}
        cars = {row["id"]: row for row in conn.execute("SELECT * FROM cars")}
        orders = {row["id"]: row for row in conn.execute("SELECT * FROM orders")}
        inquiries = {row["id"]: row for row in conn.execute("SELECT * FROM inquiries")}
        reviews = {row["id"]: row for row in conn.execute("SELECT * FROM reviews")}
        images = {row["id"]: row for row in conn.execute("SELECT * FROM car_images")}
        actions = {row["id"]: row for row in conn.execute("SELECT * FROM admin_actions")}
        files = {row["image_id"]: row for row in conn.execute("SELECT * FROM car_image_files")}

    # Every row is kept, except the one duplicate review and the images that do not decode, whose
    # whole rows are in the repair log.
    expected_counts = {table: len(LEGACY_ROWS[table]) for table in LEGACY_TABLES}
    expected_counts["reviews"] -= 1
    expected_counts["car_images"] -= len(BROKEN_IMAGES)
    assert counts == expected_counts
    removed = [r for r in repairs if r["column_name"] == "*"]
    assert [(r["table_name"], r["row_id"]) for r in removed] == [("reviews", 2)] + [
        ("car_images", i) for i in sorted(BROKEN_IMAGES)]
    assert all(r["old_value"]["car_id"] == 5 for r in removed[1:])
    assert removed[0]["old_value"]["comment"] == "older duplicate"
    assert removed[0]["old_value"]["rating"] == 4
    assert removed[0]["old_value"]["user_id"] == 3

    # Every repair is recorded with its old and new value, and nothing else is.
    recorded: dict[tuple, list] = {}
    for repair in repairs:
        key = (repair["table_name"], repair["row_id"], repair["column_name"])
        value = ("whole row", None) if key[2] == "*" else (repair["old_value"], repair["new_value"])
        recorded.setdefault(key, []).append(value)
        assert repair["reason"]
    assert recorded == EXPECTED_REPAIRS

    # Values repaired as migration 0002 documents.
    assert users[4]["role"] == "user" and users[5]["role"] == "user" and users[5]["is_active"] is False
    assert [cars[i]["status"] for i in (1, 2, 3, 4, 5)] == ["available", "sold", "pending", "available", "reserved"]
    assert cars[5]["price"] == 0
    assert orders[1]["documents"] == DOCUMENTS and orders[1]["status"] == "completed"
    assert orders[2]["status"] == "cancelled" and orders[4]["status"] == "pending_payment"
    assert orders[3]["status"] == "draft" and orders[3]["documents"] == [] and orders[3]["final_price"] == 0
    assert orders[4]["documents"] is None
    assert (inquiries[1]["status"], inquiries[1]["type"]) == ("responded", "general")
    assert inquiries[2]["type"] == "test_drive" and str(inquiries[2]["requested_date"]) == "2024-05-01"
    assert inquiries[3]["type"] == "test_drive"
    assert [reviews[i]["rating"] for i in (1, 3, 4, 5)] == [5, 1, 3, 1]
    assert 2 not in reviews
    primaries = {car_id: [i for i, row in images.items() if row["car_id"] == car_id and row["is_primary"]]
                 for car_id in (1, 2, 4, 5)}
    assert primaries == {1: [5], 2: [9], 4: [1], 5: [10]}
    assert images[9]["display_order"] == 0
    assert actions[1]["details"] == DETAILS and actions[2]["details"] == {"ok": True}
    assert actions[3]["details"] == "plain text, not JSON"  # not JSON inside: kept as it was

    # Every data: URL that decodes moved into car_image_files byte for byte, with its declared type.
    assert {i: (f["content_type"], bytes(f["content"]), f["byte_size"]) for i, f in files.items()} == {
        i: (content_type, content, len(content)) for i, (content_type, content) in STORED_IMAGES.items()
    }
    assert all(images[i]["image_url"] is None for i in STORED_IMAGES)
    # Broken data: URLs are in their record (above, as old values), their rows gone; plain links stay.
    assert not set(BROKEN_IMAGES) & (set(images) | set(files))
    assert {i: images[i]["image_url"] for i in PLAIN_LINKS} == PLAIN_LINKS

    # Untouched values stay exactly as they were.
    assert users[3]["email"] == before["users"][2]["email"]
    assert users[3]["password_hash"] == OLD_HASH
    assert {k: cars[4][k] for k in before["cars"][3]} == before["cars"][3]


def test_an_adopted_database_serves_its_old_accounts_cars_and_images(adopted, make_app):
    legacy_database, _, _ = adopted
    client = make_app(database_url=legacy_database).test_client()

    # An old account logs in through the API with its old password.
    response = client.post("/api/auth/login", json={"email": "buyer@old.example", "password": OLD_PASSWORD})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["user"]["id"] == 3 and body["user"]["role"] == "user"
    profile = client.get("/api/users/profile", headers={"Authorization": f"Bearer {body['token']}"})
    assert profile.status_code == 200 and profile.get_json()["name"] == "Old Buyer"

    # The odd 'Admin' role gave no admin rights.
    odd = client.post("/api/auth/login", json={"email": "odd@old.example", "password": OLD_PASSWORD})
    assert odd.status_code == 200 and odd.get_json()["user"]["role"] == "user"
    forbidden = client.get("/api/users", headers={"Authorization": f"Bearer {odd.get_json()['token']}"})
    assert forbidden.status_code == 403

    # The car list links the moved images instead of carrying megabytes of base64.
    cars = client.get("/api/cars")
    assert cars.status_code == 200
    assert len(cars.data) < 100_000
    listed = {car["id"]: car for car in cars.get_json()}
    assert listed[4]["primaryImage"]["imageUrl"].endswith("/api/cars/4/images/1/file")
    # A data: URL 0008 could not decode is in legacy_row_repairs, not offered as an image: car 5's
    # primary image is its one image with a link.
    assert listed[5]["primaryImage"]["id"] == 10 and listed[5]["primaryImage"]["imageUrl"] == PLAIN_LINKS[10]
    detail = client.get("/api/cars/5").get_json()
    assert [(image["id"], image["imageUrl"]) for image in detail["images"]] == [(10, PLAIN_LINKS[10])]

    # Each moved image is served with its bytes and its type.
    car_of = {row["id"]: row["car_id"] for row in LEGACY_ROWS["car_images"]}
    for image_id, (content_type, content) in STORED_IMAGES.items():
        served = client.get(f"/api/cars/{car_of[image_id]}/images/{image_id}/file")
        assert served.status_code == 200, image_id
        assert served.data == content and served.content_type == content_type
    gallery = {image["id"]: image["imageUrl"] for image in client.get("/api/cars/5/images").get_json()}
    assert gallery == {10: PLAIN_LINKS[10]}


# Everything of the catalog that makes up "the schema": any difference between two databases fails.
CATALOG_QUERIES = {
    "tables": """
        SELECT c.relname, c.relkind, c.relpersistence, obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class AS c WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid) AS column_default, col_description(c.oid, a.attnum) AS comment
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text AS table_name, conname, contype, condeferrable, condeferred,
               convalidated, pg_get_constraintdef(oid) AS definition
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "triggers": """
        SELECT tgrelid::regclass::text AS table_name, tgname, pg_get_triggerdef(oid) AS definition
        FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT p.oid::regprocedure::text AS signature, pg_get_functiondef(p.oid) AS definition,
               obj_description(p.oid, 'pg_proc') AS comment
        FROM pg_proc AS p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1""",
    "sequences": """
        SELECT s.seqrelid::regclass::text AS name, format_type(s.seqtypid, NULL) AS type, s.seqincrement,
               d.refobjid::regclass::text AS owned_by_table, d.refobjsubid AS owned_by_column
        FROM pg_sequence AS s
        LEFT JOIN pg_depend AS d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
        ORDER BY 1""",
}


def schema_catalog(url: str) -> dict[str, list]:
    with connect(url) as conn:
        return {name: conn.execute(statement).fetchall() for name, statement in CATALOG_QUERIES.items()}


def catalog_differences(first: str, second: str) -> dict[str, tuple[list, list]]:
    """Per catalog part, the rows only the first database has and those only the second has."""
    one, two = schema_catalog(first), schema_catalog(second)
    differences = {}
    for kind in CATALOG_QUERIES:
        only_one = [row for row in one[kind] if row not in two[kind]]
        only_two = [row for row in two[kind] if row not in one[kind]]
        if only_one or only_two:
            differences[kind] = (only_one, only_two)
    return differences


def test_an_adopted_and_a_fresh_database_have_the_same_catalog(adopted, fresh_database):
    legacy_database, _, result = adopted
    assert result.returncode == 0, result.stdout + result.stderr
    empty = fresh_database("empty")
    db.run_dbmate(empty, "up")

    assert catalog_differences(legacy_database, empty) == {}
    # The comparison sees what it must: a dropped NOT NULL is a difference.
    with connect(empty) as conn:
        conn.execute("ALTER TABLE cars ALTER COLUMN title DROP NOT NULL")
    assert set(catalog_differences(legacy_database, empty)) == {"columns"}


def test_rolling_back_an_adopted_database_puts_the_original_values_back(legacy_database):
    before = snapshot(legacy_database)
    db.run_dbmate(legacy_database, "up")

    # Down to the first migration (whose own down would drop the old tables).
    while applied_versions(legacy_database) != ["0000", "0001"]:
        db.run_dbmate(legacy_database, "rollback")

    after = snapshot(legacy_database)
    assert "legacy_row_repairs" not in public_tables(legacy_database)
    for table in LEGACY_TABLES:
        # The data: URL images were rewritten twice (moved out and back), which stamps updated_at,
        # and 0008's down writes base64 without line breaks: the same bytes, compared decoded.
        strip = "updated_at" if table == "car_images" else None
        rows_after = [_without(row, strip) for row in after[table]]
        rows_before = [_without(row, strip) for row in before[table]]
        if table == "car_images":
            rows_after, rows_before = _unwrapped(rows_after), _unwrapped(rows_before)
        assert rows_after == rows_before, table
    assert [row["status"] for row in after["cars"]] == ["Approved", "SOLD", "bogus", "available", " Reserved "]
    assert after["reviews"][1]["comment"] == "older duplicate"
    assert after["orders"][0]["documents"] == json.dumps(DOCUMENTS)


def _without(row: dict, key: str | None) -> dict:
    return {k: v for k, v in row.items() if k != key}


def _unwrapped(rows: list[dict]) -> list[dict]:
    return [{**row, "image_url": "".join(row["image_url"].split())} for row in rows]


def test_emails_equal_up_to_case_stop_the_migration_and_are_named(fresh_database):
    url = fresh_database("clash")
    load_legacy_schema(url)
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO users (name, email, password_hash, role) VALUES "
            "('A', 'Twin@Old.Example', %(h)s, 'user'), ('B', 'twin@old.example', %(h)s, 'seller'), "
            "('C', 'single@old.example', %(h)s, 'user')",
            {"h": OLD_HASH},
        )
        before = conn.execute("SELECT * FROM users ORDER BY id").fetchall()

    result = db.run_dbmate(url, "up", check=False)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Twin@Old.Example (id 1)" in output and "twin@old.example (id 2)" in output
    assert "single@old.example" not in output
    with connect(url) as conn:
        assert conn.execute("SELECT * FROM users ORDER BY id").fetchall() == before
    assert "legacy_row_repairs" not in public_tables(url)
    assert "0002" not in applied_versions(url)


def migrate_with_files_up_to(url: str, last_version: str, tmp_path) -> None:
    """Apply the migrations up to last_version, as an earlier release of the service did."""
    for path in db.MIGRATIONS_DIR.glob("*.sql"):
        if path.name.split("_", 1)[0] <= last_version:
            (tmp_path / path.name).write_text(path.read_text())
    dbmate = str(Path(sys.executable).parent / "dbmate")
    subprocess.run([dbmate, "--url", db.dbmate_url(url), "--migrations-dir", str(tmp_path), "--no-dump-schema", "up"],
                   check=True, capture_output=True)


def test_a_database_of_an_earlier_release_gets_its_missing_values_filled_and_recorded(fresh_database, tmp_path):
    """Databases created by releases up to 0016 have nullable columns that old deployments refuse
    NULL in; 0018 fills what has a safe default (recorded) before 0020 makes them NOT NULL."""
    url = fresh_database("release16")
    migrate_with_files_up_to(url, "0016", tmp_path)
    with connect(url) as conn:
        conn.execute("INSERT INTO users (id, name, email, password_hash, role, created_at) VALUES "
                     "(1, 'Sam', 'sam@example.com', %(h)s, 'seller', NULL), "
                     "(2, NULL, 'bo@example.com', %(h)s, 'user', now())", {"h": OLD_HASH})
        conn.execute("INSERT INTO cars (id, title, price, seller_id, status) VALUES (1, NULL, 5000, 1, 'available')")
        conn.execute("INSERT INTO orders (id, car_id, buyer_id, seller_id, final_price, status) VALUES "
                     "(1, 1, 2, NULL, NULL, 'draft')")
        conn.execute("INSERT INTO inquiries (id, car_id, user_id, seller_id, message) VALUES (1, 1, 2, NULL, NULL)")
        conn.execute("INSERT INTO reviews (id, car_id, user_id, user_name, rating) VALUES (1, 1, 2, NULL, 4)")
        conn.execute("INSERT INTO admin_actions (id, admin_id, action_type) VALUES (1, 1, NULL)")

    db.run_dbmate(url, "up")

    with connect(url) as conn:
        repairs = conn.execute(
            "SELECT table_name, row_id, column_name, old_value, new_value, reason FROM legacy_row_repairs"
            " WHERE column_name <> 'created_at' ORDER BY table_name, row_id, column_name"
        ).fetchall()
        stamped = conn.execute(
            "SELECT table_name, row_id FROM legacy_row_repairs WHERE column_name = 'created_at'"
        ).fetchall()
        assert conn.execute("SELECT created_at IS NOT NULL AS set FROM users WHERE id = 1").fetchone()["set"]
    assert [(r["table_name"], r["row_id"], r["column_name"], r["old_value"], r["new_value"]) for r in repairs] == [
        ("admin_actions", 1, "action_type", None, "unknown"),
        ("cars", 1, "title", None, "Untitled listing"),
        ("inquiries", 1, "message", None, ""),
        ("inquiries", 1, "seller_id", None, 1),
        ("orders", 1, "final_price", None, 5000),
        ("orders", 1, "seller_id", None, 1),
        ("reviews", 1, "user_name", None, "bo"),
        ("users", 2, "name", None, "bo"),
    ]
    assert stamped == [{"table_name": "users", "row_id": 1}]
    assert {r["reason"] for r in repairs} == {"missing value filled in before NOT NULL"}


def test_a_row_missing_a_reference_stops_the_migration_and_is_named(fresh_database, tmp_path):
    url = fresh_database("release16_refs")
    migrate_with_files_up_to(url, "0016", tmp_path)
    with connect(url) as conn:
        conn.execute("INSERT INTO users (id, name, email, password_hash, role) VALUES "
                     "(1, 'Sam', 'sam@example.com', %(h)s, 'seller'), (2, 'Bo', NULL, %(h)s, 'user')",
                     {"h": OLD_HASH})
        conn.execute("INSERT INTO cars (id, title, price, seller_id, status) VALUES (1, NULL, 5000, NULL, 'pending')")
        conn.execute("INSERT INTO cars (id, title, price, seller_id, status) VALUES (2, 'Kept', 5000, 1, 'pending')")
        before = snapshot(url)

    result = db.run_dbmate(url, "up", check=False)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "users.email (id 2)" in output and "cars.seller_id (id 1)" in output
    assert applied_versions(url)[-1] == "0017"  # the step before the repair, which changed nothing
    assert snapshot(url) == before
    with connect(url) as conn:
        assert count_rows(conn, "legacy_row_repairs") == 0


NOT_NULL_COLUMNS = """
    SELECT c.relname AS table_name, a.attname AS column_name
    FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND a.attnotnull
"""


def test_a_fresh_database_refuses_null_wherever_old_deployments_do(fresh_database, database_url, sql, factory):
    old = fresh_database("old_schema")
    load_legacy_schema(old)
    with connect(old) as conn:
        required_before = {tuple(row.values()) for row in conn.execute(NOT_NULL_COLUMNS)}
    required_now = {tuple(row.values()) for row in sql.execute(NOT_NULL_COLUMNS)}

    # The one exception: a stored image's bytes are in car_image_files, its link is NULL (0008).
    assert required_before - required_now == {("car_images", "image_url")}
    assert len(required_before) > 50

    # The statements of issue 11, accepted by a database migrated from empty before 0018-0020.
    with pytest.raises(psycopg.errors.NotNullViolation):
        sql.execute("insert into users (email, name, password_hash) values (null, 'x', 'x')")
    with pytest.raises(psycopg.errors.NotNullViolation):
        sql.execute("insert into cars (title, price, seller_id) values ('x', 1, null)")
    seller = factory.user("seller")
    with pytest.raises(psycopg.errors.NotNullViolation):
        factory.row("reviews", car_id=factory.car(seller)["id"], user_id=seller["id"], user_name=None, rating=3)


def _old_database_with_a_case_twin(fresh_database) -> str:
    """The old rows plus one account whose email differs from an old one only in letter case:
    0002 refuses to adopt it (after 0000 and 0001 would have run)."""
    url = fresh_database("twin")
    load_legacy_schema(url)
    insert_legacy_rows(url)
    with connect(url) as conn:
        conn.execute("INSERT INTO users (id, name, email, password_hash, role) VALUES (600, 'Twin', "
                     "'BUYER@old.example', %(h)s, 'user')", {"h": OLD_HASH})
    return url


def _cms_db_up(url: str, monkeypatch) -> object:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DATABASE_DIRECT_URL", raising=False)
    return CliRunner().invoke(cli.main, ["db", "up"])


def test_cms_db_up_on_an_old_database_it_cannot_adopt_changes_nothing(fresh_database, monkeypatch):
    url = _old_database_with_a_case_twin(fresh_database)
    rows_before, catalog_before = snapshot(url), schema_catalog(url)

    result = _cms_db_up(url, monkeypatch)

    assert result.exit_code == 1
    assert result.output.count("\n") == 1, result.output  # one line
    assert "nothing was changed: 0002_repair_legacy_rows.sql would fail" in result.output
    assert "(id 3), BUYER@old.example (id 600)" in result.output
    # Not even 0000's relaxed NOT NULL or dbmate's own table: the database is as it was.
    assert schema_catalog(url) == catalog_before
    assert snapshot(url) == rows_before
    assert "schema_migrations" not in public_tables(url)

    with connect(url) as conn:
        conn.execute("UPDATE users SET email = 'twin@old.example' WHERE id = 600")
    assert _cms_db_up(url, monkeypatch).exit_code == 0
    assert applied_versions(url)[-1] == db.latest_migration_file_version()


def test_a_run_that_stops_after_the_rehearsal_names_what_it_applied(fresh_database, monkeypatch):
    """Should the real run stop where the rehearsal passed (a lock, a write in between), the
    operator is told which migrations stay applied."""
    url = _old_database_with_a_case_twin(fresh_database)
    monkeypatch.setattr(db, "rehearse_migrations", lambda _url: None)

    result = _cms_db_up(url, monkeypatch)

    assert result.exit_code != 0
    assert "applied before it stopped (and kept): 0000, 0001; `cms db rollback` undoes them" in result.output
    assert applied_versions(url) == ["0000", "0001"]
