"""Migrations: well-formed files, a full up → down → up round trip, and the rules they add."""

from __future__ import annotations

import re
import time

import psycopg
import pytest
from support.databases import (
    APP_TABLES,
    applied_versions,
    connect,
    database_url_for,
    drop_database,
    migrate,
    public_tables,
    unique_database_name,
)

from cms import db

FILE_NAME = re.compile(r"^(\d+)_[a-z0-9_]+\.sql$")


def migration_files():
    return sorted(p for p in db.MIGRATIONS_DIR.iterdir() if p.is_file())


def test_migration_files_are_numbered_contiguously_with_one_width():
    names = [p.name for p in migration_files()]
    assert names, "no migrations"
    numbers = []
    for name in names:
        match = FILE_NAME.match(name)
        assert match, f"{name} is not <number>_<snake_case>.sql (dbmate would ignore or misorder it)"
        numbers.append(match.group(1))
    assert len({len(n) for n in numbers}) == 1, "numbers must all have the same width"
    assert len(set(numbers)) == len(numbers), "two files share a number"
    # 0000 runs first on a database being adopted (see its Why); the others count up from 0001.
    assert [int(n) for n in numbers] == list(range(0, len(numbers)))
    assert db.latest_migration_file_version() == numbers[-1]


def test_every_migration_has_an_up_and_a_non_empty_down_section():
    for path in migration_files():
        text = path.read_text()
        assert text.count("-- migrate:up") == 1, path.name
        assert text.count("-- migrate:down") == 1, path.name
        up, down = text.split("-- migrate:down")
        assert up.index("-- migrate:up") >= 0
        statements = [line for line in down.splitlines() if line.strip() and not line.startswith("--")]
        assert statements, f"{path.name} has an empty down section"


@pytest.fixture
def missing_database_url():
    """The URL of a database that does not exist yet; dropped after the test."""
    name = unique_database_name("migrations")
    yield database_url_for(name)
    drop_database(name)


def test_up_creates_the_database_then_down_to_zero_then_up_again(missing_database_url):
    url = missing_database_url
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()
    # `status` does not create the database; `up` does.
    assert db.run_dbmate(url, "status", check=False).returncode != 0

    db.run_dbmate(url, "up")

    versions = applied_versions(url)
    assert versions[-1] == db.latest_migration_file_version()
    assert len(versions) == len(migration_files())
    assert set(APP_TABLES) <= public_tables(url)
    assert db.run_dbmate(url, "status", "--exit-code", check=False).returncode == 0

    for expected_left in range(len(versions) - 1, -1, -1):
        db.run_dbmate(url, "rollback")
        assert len(applied_versions(url)) == expected_left

    assert db.run_dbmate(url, "status", "--exit-code", check=False).returncode == 1
    assert public_tables(url) == {"schema_migrations"}
    with connect(url) as conn:
        leftovers = conn.execute("""
            SELECT proname AS name FROM pg_proc WHERE pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT typname FROM pg_type
            WHERE typnamespace = 'public'::regnamespace AND typtype <> 'c' AND typname NOT LIKE '\\_%'
            UNION ALL
            SELECT relname FROM pg_class
            WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'schema_migrations%'
        """).fetchall()
    assert leftovers == []

    db.run_dbmate(url, "up")
    assert applied_versions(url) == versions
    assert set(APP_TABLES) <= public_tables(url)


# --- the rules the migrations add -------------------------------------------------

@pytest.mark.parametrize(("table", "column"), [
    ("users", "role"), ("cars", "status"), ("orders", "status"), ("inquiries", "status"), ("inquiries", "type"),
])
def test_status_role_and_type_columns_refuse_unknown_values(factory, sql, table, column):
    seller = factory.user("seller")
    buyer = factory.user("user")
    car = factory.car(seller)
    rows = {
        "users": lambda: buyer,
        "cars": lambda: car,
        "orders": lambda: factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                                      final_price=1, documents=[]),
        "inquiries": lambda: factory.row("inquiries", car_id=car["id"], user_id=buyer["id"],
                                         seller_id=seller["id"], message="hi"),
    }
    row = rows[table]()
    with pytest.raises(psycopg.errors.CheckViolation):
        sql.execute(f"UPDATE {table} SET {column} = 'bogus' WHERE id = %s", (row["id"],))  # noqa: S608
    with pytest.raises(psycopg.errors.NotNullViolation):
        sql.execute(f"UPDATE {table} SET {column} = NULL WHERE id = %s", (row["id"],))  # noqa: S608


def test_ratings_must_be_between_one_and_five(factory, sql):
    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller)
    for rating in (0, 6):
        with pytest.raises(psycopg.errors.CheckViolation):
            factory.row("reviews", car_id=car["id"], user_id=buyer["id"], user_name="B", rating=rating)
    assert factory.row("reviews", car_id=car["id"], user_id=buyer["id"], user_name="B", rating=5)["rating"] == 5
    with pytest.raises(psycopg.errors.UniqueViolation):
        factory.row("reviews", car_id=car["id"], user_id=buyer["id"], user_name="B", rating=1)


def test_emails_are_unique_regardless_of_case_and_blanks(factory):
    factory.user(email="same@example.com")
    with pytest.raises(psycopg.errors.UniqueViolation):
        factory.user(email=" SAME@Example.com ")


def test_a_car_has_at_most_one_primary_image(factory):
    car = factory.car(factory.user("seller"))
    factory.row("car_images", car_id=car["id"], image_url="/a.png", is_primary=True)
    factory.row("car_images", car_id=car["id"], image_url="/b.png", is_primary=False)
    with pytest.raises(psycopg.errors.UniqueViolation):
        factory.row("car_images", car_id=car["id"], image_url="/c.png", is_primary=True)


def test_a_car_is_sold_at_most_once(factory):
    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller, status="sold")
    order = {"car_id": car["id"], "buyer_id": buyer["id"], "seller_id": seller["id"], "final_price": 1}
    factory.row("orders", status="paid", **order)
    factory.row("orders", status="cancelled", **order)
    with pytest.raises(psycopg.errors.UniqueViolation):
        factory.row("orders", status="completed", **order)


def test_a_car_with_orders_cannot_be_deleted(factory, sql):
    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller)
    factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"], final_price=1)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        sql.execute("DELETE FROM cars WHERE id = %s", (car["id"],))


def test_deleting_a_car_takes_its_images_favorites_inquiries_and_reviews(factory, sql):
    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller)
    image = factory.row("car_images", car_id=car["id"], image_url="/a.png", is_primary=True)
    sql.execute(
        "INSERT INTO car_image_files (image_id, content_type, content, byte_size, etag) "
        "VALUES (%s, 'image/jpeg', '\\x00', 1, 'e')", (image["id"],)
    )
    factory.row("favorites", car_id=car["id"], user_id=buyer["id"])
    factory.row("inquiries", car_id=car["id"], user_id=buyer["id"], seller_id=seller["id"], message="hi")
    factory.row("reviews", car_id=car["id"], user_id=buyer["id"], user_name="B", rating=4)

    sql.execute("DELETE FROM cars WHERE id = %s", (car["id"],))

    for table in ("car_images", "car_image_files", "favorites", "inquiries", "reviews"):
        assert sql.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] == 0, table  # noqa: S608


def test_updated_at_is_maintained_by_the_database(factory, sql):
    user = factory.user()
    sql.execute("UPDATE users SET updated_at = '2000-01-01' WHERE id = %s", (user["id"],))
    time.sleep(0.01)
    sql.execute("UPDATE users SET phone = '123' WHERE id = %s", (user["id"],))
    row = sql.execute("SELECT updated_at, now() AT TIME ZONE 'utc' AS now FROM users WHERE id = %s",
                      (user["id"],)).fetchone()
    assert abs((row["now"] - row["updated_at"]).total_seconds()) < 5


# A one-row table needs no index for its foreign key.
FOREIGN_KEYS_WITHOUT_INDEX = [{"table_name": "settings", "column_name": "updated_by"}]


def test_every_foreign_key_is_covered_by_an_index(sql):
    missing = sql.execute("""
        SELECT c.conrelid::regclass::text AS table_name, a.attname AS column_name
        FROM pg_constraint AS c
        JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
          AND NOT EXISTS (
              SELECT 1 FROM pg_index AS i
              WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
          )
        ORDER BY 1, 2
    """).fetchall()
    assert [row for row in missing if row not in FOREIGN_KEYS_WITHOUT_INDEX] == []


def test_the_old_constraint_names_are_kept(sql):
    names = {row["conname"] for row in sql.execute(
        "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
    )}
    assert {
        "users_pkey", "users_email_unique", "unique_user_car", "cars_seller_id_users_id_fk",
        "car_images_car_id_cars_id_fk", "orders_car_id_cars_id_fk", "favorites_car_id_cars_id_fk",
    } <= names


def test_rolling_back_the_first_migration_refuses_while_rows_are_left(fresh_database):
    import psycopg

    from cms.db import run_dbmate

    url = fresh_database("rollback_guard")
    run_dbmate(url, "up")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (name, email, password_hash) VALUES ('Kept', 'kept@example.com', 'x')")
    for _ in range(50):
        result = run_dbmate(url, "rollback", check=False)
        if result.returncode != 0:
            break
    assert result.returncode != 0
    assert "still hold data" in result.stdout + result.stderr
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT name FROM users").fetchone() == ("Kept",)
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == ("0001",)


def test_money_columns_refuse_negative_amounts(factory, sql):
    import psycopg

    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller)
    with pytest.raises(psycopg.errors.CheckViolation):
        sql.execute("UPDATE cars SET price = -0.01 WHERE id = %s", (car["id"],))
    with pytest.raises(psycopg.errors.CheckViolation):
        factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"], final_price=-1)


def test_a_favorite_needs_its_user_and_car(factory, sql):
    import psycopg

    user = factory.user("user")
    with pytest.raises(psycopg.errors.NotNullViolation):
        factory.row("favorites", user_id=user["id"], car_id=None)


def test_0041_marks_the_cars_of_sellers_deactivated_before_it_and_keeps_their_updated_at(fresh_database):
    url = migrate(fresh_database("seller_active"))
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] > "0040":
            db.run_dbmate(url, "rollback")
        seller = conn.execute("INSERT INTO users (name, email, password_hash, role, is_active) "
                              "VALUES ('Gone', 'gone@example.com', 'x', 'seller', FALSE) RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO cars (title, price, seller_id, status, updated_at) "
                     "VALUES ('Old listing', 100, %s, 'available', '2020-01-01')", (seller,))
    migrate(url)
    with psycopg.connect(url) as conn:
        marked = conn.execute("SELECT seller_active, updated_at::text FROM cars").fetchone()
    assert marked == (False, "2020-01-01 00:00:00")
