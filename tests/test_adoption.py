"""`dbmate up` adopts a database of the old Node server in place.

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
names them.
"""

from __future__ import annotations

import base64
import json

import pytest
from helpers_db import (
    LEGACY_HASH,
    LEGACY_PASSWORD,
    applied_versions,
    connect,
    count_rows,
    load_legacy_schema,
    public_tables,
)
from psycopg.types.json import Jsonb

from cms import db

OLD_PASSWORD = LEGACY_PASSWORD
OLD_HASH = LEGACY_HASH

PNG_BYTES = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
DOCUMENTS = [{"name": "contract.pdf", "url": "/files/contract.pdf", "uploadedAt": "2024-03-01T10:00:00.000Z"}]
DETAILS = {"reason": "spam", "previousRole": "seller"}

LEGACY_TABLES = ("users", "cars", "orders", "inquiries", "reviews", "favorites", "car_images", "admin_actions")

LEGACY_ROWS = {
    "users": [
        {"id": 1, "name": "Old Admin", "email": "admin@old.example", "password_hash": OLD_HASH, "role": "admin"},
        {"id": 2, "name": "Old Seller", "email": "seller@old.example", "password_hash": OLD_HASH, "role": "seller"},
        {"id": 3, "name": "Old Buyer", "email": " Buyer@Old.Example ", "password_hash": OLD_HASH, "role": "user",
         "last_login": None},
        # The old server accepted any role string; 'Admin' gave no rights there and must give none here.
        {"id": 4, "name": "Odd Role", "email": "odd@old.example", "password_hash": OLD_HASH, "role": "Admin"},
        {"id": 5, "name": None, "email": "nulls@old.example", "password_hash": OLD_HASH, "role": None,
         "is_active": None},
    ],
    "cars": [
        {"id": 1, "title": "Approved car", "price": 1000, "seller_id": 2, "status": "Approved"},
        {"id": 2, "title": "Sold car", "price": 2000, "seller_id": 2, "status": "SOLD"},
        {"id": 3, "title": "Bogus car", "price": 3000, "seller_id": 2, "status": "bogus"},
        {"id": 4, "title": "Plain car", "price": 4000, "seller_id": 2, "status": "available"},
        {"id": 5, "title": None, "price": -5, "seller_id": 2, "status": None},
    ],
    "orders": [
        {"id": 1, "car_id": 2, "buyer_id": 3, "seller_id": 2, "final_price": 2000, "status": "completed",
         "documents": Jsonb(json.dumps(DOCUMENTS)), "created_at": "2024-03-01 10:00:00"},
        {"id": 2, "car_id": 2, "buyer_id": 4, "seller_id": 2, "final_price": 2000, "status": "PAID",
         "documents": Jsonb([]), "created_at": "2024-03-02 10:00:00"},
        {"id": 3, "car_id": 4, "buyer_id": 3, "seller_id": 2, "final_price": -1, "status": "weird",
         "documents": Jsonb({"not": "a list"})},
        {"id": 4, "car_id": 4, "buyer_id": 3, "seller_id": 2, "final_price": 4000, "status": "draft",
         "documents": None},
    ],
    "inquiries": [
        {"id": 1, "car_id": 1, "user_id": 3, "seller_id": 2, "message": "Hi", "status": "Responded", "type": None},
        {"id": 2, "car_id": 1, "user_id": 3, "seller_id": 2, "message": "Drive?", "status": "open",
         "type": "Test Drive", "requested_date": "2024-05-01"},
        {"id": 3, "car_id": 4, "user_id": 3, "seller_id": 2, "message": "Drive!", "status": "closed",
         "type": "test-drive"},
    ],
    "reviews": [
        {"id": 1, "car_id": 1, "user_id": 3, "user_name": "Old Buyer", "rating": 7, "comment": "newest",
         "created_at": "2024-02-01 10:00:00"},
        {"id": 2, "car_id": 1, "user_id": 3, "user_name": "Old Buyer", "rating": 4, "comment": "older duplicate",
         "created_at": "2023-02-01 10:00:00"},
        {"id": 3, "car_id": 2, "user_id": 3, "user_name": "Old Buyer", "rating": 0, "comment": "zero"},
        {"id": 4, "car_id": 4, "user_id": 3, "user_name": None, "rating": 3, "comment": "fine"},
    ],
    "favorites": [
        {"id": 1, "user_id": 3, "car_id": 1},
        {"id": 2, "user_id": 3, "car_id": 2},
    ],
    "car_images": [
        {"id": 1, "car_id": 1, "image_url": "/images/a.png", "is_primary": True, "display_order": 1},
        {"id": 2, "car_id": 1, "image_url": "/images/b.png", "is_primary": True, "display_order": 0},
        {"id": 3, "car_id": 2, "image_url": "/images/c.png", "is_primary": False, "display_order": None},
        {"id": 4, "car_id": 4, "image_url": PNG_DATA_URL, "is_primary": True, "display_order": 0},
    ],
    "admin_actions": [
        {"id": 1, "admin_id": 1, "action_type": "update_user", "target_id": 3,
         "details": Jsonb(json.dumps(DETAILS))},
        {"id": 2, "admin_id": 1, "action_type": "create_seller", "target_id": 2, "details": Jsonb({"ok": True})},
    ],
}

# (table, row id, column) -> (old value, new value), as JSON values; '*' rows were removed.
EXPECTED_REPAIRS = {
    ("users", 4, "role"): ("Admin", "user"),
    ("users", 5, "role"): (None, "user"),
    ("users", 5, "is_active"): (None, True),
    ("cars", 1, "status"): ("Approved", "available"),
    ("cars", 2, "status"): ("SOLD", "sold"),
    ("cars", 3, "status"): ("bogus", "pending"),
    ("cars", 5, "status"): (None, "pending"),
    ("cars", 5, "price"): (-5, 0),
    ("orders", 2, "status"): [("PAID", "paid"), ("paid", "cancelled")],
    ("orders", 3, "status"): ("weird", "draft"),
    ("orders", 3, "final_price"): (-1, 0),
    ("orders", 1, "documents"): (json.dumps(DOCUMENTS), DOCUMENTS),
    ("orders", 3, "documents"): ({"not": "a list"}, []),
    ("inquiries", 1, "status"): ("Responded", "responded"),
    ("inquiries", 1, "type"): (None, "general"),
    ("inquiries", 2, "type"): ("Test Drive", "test_drive"),
    ("inquiries", 3, "type"): ("test-drive", "test_drive"),
    ("reviews", 1, "rating"): (7, 5),
    ("reviews", 3, "rating"): (0, 1),
    ("reviews", 2, "*"): ("whole row", None),
    ("car_images", 1, "is_primary"): (True, False),
    ("car_images", 3, "display_order"): (None, 0),
    ("car_images", 3, "is_primary"): (False, True),
    ("admin_actions", 1, "details"): (json.dumps(DETAILS), DETAILS),
}


def insert_legacy_rows(url: str) -> None:
    with connect(url) as conn:
        for table in LEGACY_TABLES:
            for row in LEGACY_ROWS[table]:
                columns = ", ".join(row)
                placeholders = ", ".join(f"%({name})s" for name in row)
                conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", row)  # noqa: S608
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)")


def snapshot(url: str) -> dict[str, list[dict]]:
    with connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608
            for table in LEGACY_TABLES
        }


@pytest.fixture
def legacy_database(fresh_database):
    """An old-style database: the old schema, odd rows, no migration applied yet."""
    url = fresh_database("legacy")
    load_legacy_schema(url)
    insert_legacy_rows(url)
    return url


def test_dbmate_up_adopts_an_old_database_keeping_every_row(legacy_database, database_url, make_app):
    before = snapshot(legacy_database)

    db.run_dbmate(legacy_database, "up")

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
        files = conn.execute("SELECT * FROM car_image_files").fetchall()

    # Every row is kept, except the one duplicate review, whose whole row is in the repair log.
    expected_counts = {table: len(LEGACY_ROWS[table]) for table in LEGACY_TABLES}
    expected_counts["reviews"] -= 1
    assert counts == expected_counts
    removed = [r for r in repairs if r["column_name"] == "*"]
    assert len(removed) == 1
    assert removed[0]["table_name"] == "reviews" and removed[0]["row_id"] == 2
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
    expected = {key: value if isinstance(value, list) else [value] for key, value in EXPECTED_REPAIRS.items()}
    assert recorded == expected

    # Values repaired as migration 0002 documents.
    assert users[4]["role"] == "user"
    assert users[5]["role"] == "user" and users[5]["is_active"] is True
    assert [cars[i]["status"] for i in (1, 2, 3, 4, 5)] == ["available", "sold", "pending", "available", "pending"]
    assert cars[5]["price"] == 0
    assert orders[1]["documents"] == DOCUMENTS and orders[1]["status"] == "completed"
    assert orders[2]["status"] == "cancelled"
    assert orders[3]["status"] == "draft" and orders[3]["documents"] == [] and orders[3]["final_price"] == 0
    assert orders[4]["documents"] is None
    assert (inquiries[1]["status"], inquiries[1]["type"]) == ("responded", "general")
    assert inquiries[2]["type"] == "test_drive" and str(inquiries[2]["requested_date"]) == "2024-05-01"
    assert inquiries[3]["type"] == "test_drive"
    assert reviews[1]["rating"] == 5 and reviews[3]["rating"] == 1 and reviews[4]["rating"] == 3
    assert 2 not in reviews
    assert [images[i]["is_primary"] for i in (1, 2, 3, 4)] == [False, True, True, True]
    assert images[3]["display_order"] == 0
    assert actions[1]["details"] == DETAILS and actions[2]["details"] == {"ok": True}
    # The data: URL image moved into car_image_files, byte for byte.
    assert [(f["image_id"], bytes(f["content"]), f["content_type"]) for f in files] == [
        (4, PNG_BYTES, "image/png")
    ]
    assert images[4]["image_url"] is None

    # Untouched values stay exactly as they were.
    assert users[3]["email"] == before["users"][2]["email"]
    assert users[3]["password_hash"] == OLD_HASH
    assert {k: cars[4][k] for k in before["cars"][3]} == before["cars"][3]

    # The adopted schema is exactly the schema of a new database.
    adopted, fresh = schema_facts(legacy_database), schema_facts(database_url)
    for kind in fresh:
        only_adopted = [row for row in adopted[kind] if row not in fresh[kind]]
        only_fresh = [row for row in fresh[kind] if row not in adopted[kind]]
        assert (only_adopted, only_fresh) == ([], []), kind

    # An old account logs in through the API with its old password.
    client = make_app(database_url=legacy_database).test_client()
    response = client.post("/api/auth/login", json={"email": "buyer@old.example", "password": OLD_PASSWORD})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["user"]["id"] == 3 and body["user"]["role"] == "user"
    assert body["token"].count(".") == 2
    profile = client.get("/api/users/profile", headers={"Authorization": f"Bearer {body['token']}"})
    assert profile.status_code == 200 and profile.get_json()["name"] == "Old Buyer"

    # The odd 'Admin' role gave no admin rights.
    odd = client.post("/api/auth/login", json={"email": "odd@old.example", "password": OLD_PASSWORD})
    assert odd.status_code == 200 and odd.get_json()["user"]["role"] == "user"
    forbidden = client.get("/api/users", headers={"Authorization": f"Bearer {odd.get_json()['token']}"})
    assert forbidden.status_code == 403


def schema_facts(url: str) -> dict[str, list]:
    queries = {
        "columns": """
            SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision,
                   numeric_scale, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2""",
        "constraints": """
            SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "triggers": "SELECT tgname, tgrelid::regclass::text AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
    }
    with connect(url) as conn:
        return {name: conn.execute(statement).fetchall() for name, statement in queries.items()}


def test_rolling_back_an_adopted_database_puts_the_original_values_back(legacy_database):
    before = snapshot(legacy_database)
    db.run_dbmate(legacy_database, "up")

    # Down to the first migration (whose own down would drop the old tables).
    while applied_versions(legacy_database) != ["0001"]:
        db.run_dbmate(legacy_database, "rollback")

    after = snapshot(legacy_database)
    assert "legacy_row_repairs" not in public_tables(legacy_database)
    for table in LEGACY_TABLES:
        # The data: URL image was rewritten twice (moved out and back), which stamps updated_at.
        strip = "updated_at" if table == "car_images" else None
        assert [_without(row, strip) for row in after[table]] == [_without(row, strip) for row in before[table]], table
    assert [row["status"] for row in after["cars"]] == ["Approved", "SOLD", "bogus", "available", None]
    assert after["reviews"][1]["comment"] == "older duplicate"
    assert after["orders"][0]["documents"] == json.dumps(DOCUMENTS)


def _without(row: dict, key: str | None) -> dict:
    return {k: v for k, v in row.items() if k != key}


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


def test_listings_without_price_and_orders_without_seller_are_repaired_and_recorded(fresh_database):
    url = fresh_database("nulls")
    load_legacy_schema(url)
    with connect(url) as conn:
        conn.execute("INSERT INTO users (id, name, email, password_hash, role) VALUES "
                     "(1, 'Sam', 'sam@old.example', %(h)s, 'seller'), (2, 'Bo', 'bo@old.example', %(h)s, 'user')",
                     {"h": OLD_HASH})
        conn.execute("INSERT INTO cars (id, title, price, seller_id, status) VALUES "
                     "(1, 'No price', NULL, 1, 'available'), (2, 'Priced', 5000, 1, 'available')")
        conn.execute("INSERT INTO orders (id, car_id, buyer_id, seller_id, final_price, status) VALUES "
                     "(1, 2, 2, NULL, 5000, 'draft')")
        conn.execute("INSERT INTO inquiries (id, car_id, user_id, seller_id, message) VALUES (1, 2, 2, NULL, 'Hi')")

    db.run_dbmate(url, "up")

    with connect(url) as conn:
        assert conn.execute("SELECT price, status FROM cars WHERE id = 1").fetchone() == {
            "price": 0, "status": "pending"}
        assert conn.execute("SELECT price, status FROM cars WHERE id = 2").fetchone() == {
            "price": 5000, "status": "available"}
        assert conn.execute("SELECT seller_id FROM orders").fetchone()["seller_id"] == 1
        assert conn.execute("SELECT seller_id FROM inquiries").fetchone()["seller_id"] == 1
        repairs = conn.execute(
            "SELECT table_name, row_id, column_name, old_value, new_value FROM legacy_row_repairs ORDER BY id"
        ).fetchall()
        assert [(r["table_name"], r["row_id"], r["column_name"]) for r in repairs] == [
            ("cars", 1, "status"), ("cars", 1, "price"), ("orders", 1, "seller_id"), ("inquiries", 1, "seller_id"),
        ]
        assert repairs[0]["old_value"] == "available" and repairs[2]["new_value"] == 1
        nullable = conn.execute("SELECT is_nullable FROM information_schema.columns "
                                "WHERE table_name = 'cars' AND column_name = 'price'").fetchone()
        assert nullable["is_nullable"] == "NO"
