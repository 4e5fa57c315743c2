"""Old rows as old deployments really hold them, for the adoption tests.

The schema is `tests/legacy_schema.sql` (a copy of the team's `shared/legacy-schema.sql`: the old
deployments' DDL, NOT NULL where they have it). The rows are what the old server and its client
left there: images uploaded as base64 data: URLs of every type the client sent (PNG, JPEG, GIF,
WebP; one of several megabytes; broken ones), plain links, double-encoded jsonb, statuses and
roles spelt any way, ratings outside 1-5, duplicate reviews, two primary images, a car sold twice.
"""

from __future__ import annotations

import base64
import io
import json
import random

from PIL import Image
from psycopg.types.json import Jsonb

from support.databases import LEGACY_HASH, connect

LEGACY_TABLES = ("users", "cars", "orders", "inquiries", "reviews", "favorites", "car_images", "admin_actions")

DOCUMENTS = [{"name": "contract.pdf", "url": "/files/contract.pdf", "uploadedAt": "2024-03-01T10:00:00.000Z"}]
DETAILS = {"reason": "spam", "previousRole": "seller"}


def image_bytes(kind: str, size: tuple[int, int], *, noise: bool = False) -> bytes:
    """An image file of the given format; noise makes it incompressible (a big PNG)."""
    rng = random.Random(f"{kind}{size}")
    if noise:
        image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, format=kind, **({"compress_level": 1} if kind == "PNG" else {}))
    return out.getvalue()


def data_url(content_type: str, content: bytes, *, wrap: int | None = None) -> str:
    encoded = base64.b64encode(content).decode()
    if wrap:  # MIME-style line breaks, as some encoders write them
        encoded = "\r\n".join(encoded[i:i + wrap] for i in range(0, len(encoded), wrap))
    return f"data:{content_type};base64,{encoded}"


# Moved into car_image_files byte for byte: image id -> (declared type, bytes).
BIG_PNG = image_bytes("PNG", (1200, 1000), noise=True)  # ~3.6 MB, ~4.8 MB as a data: URL
STORED_IMAGES = {
    1: ("image/png", BIG_PNG),
    2: ("image/jpeg", image_bytes("JPEG", (640, 480))),
    3: ("image/gif", image_bytes("GIF", (32, 32))),
    4: ("image/webp", image_bytes("WEBP", (64, 48))),
    5: ("image/jpeg", image_bytes("JPEG", (80, 60))),  # line-wrapped base64
}
# data: URLs that do not decode: moved into their record in legacy_row_repairs (0008, 0017).
BROKEN_IMAGES = {
    6: data_url("image/png", BIG_PNG)[:200_001],  # an upload cut off mid-way
    7: "data:image/jpeg;base64,@@not base64@@",
    8: "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg'/>",  # not base64 at all
}
PLAIN_LINKS = {9: "/images/car1.png", 10: "https://cdn.old.example/cars/2.jpg"}


def _image_url(image_id: int) -> str:
    if image_id in STORED_IMAGES:
        content_type, content = STORED_IMAGES[image_id]
        return data_url(content_type, content, wrap=76 if image_id == 5 else None)
    return BROKEN_IMAGES.get(image_id) or PLAIN_LINKS[image_id]


LEGACY_ROWS = {
    "users": [
        {"id": 1, "name": "Old Admin", "email": "admin@old.example", "password_hash": LEGACY_HASH, "role": "admin"},
        {"id": 2, "name": "Old Seller", "email": "seller@old.example", "password_hash": LEGACY_HASH,
         "role": "seller", "phone": "+1 555 0100"},
        {"id": 3, "name": "Old Buyer", "email": " Buyer@Old.Example ", "password_hash": LEGACY_HASH, "role": "user"},
        # The old server accepted any role string; 'Admin' gave no rights there and must give none here.
        {"id": 4, "name": "Odd Role", "email": "odd@old.example", "password_hash": LEGACY_HASH, "role": "Admin"},
        {"id": 5, "name": "Empty Role", "email": "empty@old.example", "password_hash": LEGACY_HASH, "role": "",
         "is_active": False},
    ],
    "cars": [
        {"id": 1, "title": "Approved car", "price": 1000, "seller_id": 2, "status": "Approved"},
        {"id": 2, "title": "Sold car", "price": 2000, "seller_id": 2, "status": "SOLD"},
        {"id": 3, "title": "Bogus car", "price": 3000, "seller_id": 2, "status": "bogus"},
        {"id": 4, "title": "Plain car", "price": 4000, "seller_id": 2, "status": "available",
         "brand": "Aura", "model": "GT", "year": 2020, "fuel_type": "Electric", "image": "/images/car1.png"},
        {"id": 5, "title": "Negative car", "price": -5, "seller_id": 2, "status": " Reserved "},
    ],
    "orders": [
        {"id": 1, "car_id": 2, "buyer_id": 3, "seller_id": 2, "final_price": 2000, "status": "completed",
         "documents": Jsonb(json.dumps(DOCUMENTS)), "created_at": "2024-03-01 10:00:00"},
        {"id": 2, "car_id": 2, "buyer_id": 4, "seller_id": 2, "final_price": 2000, "status": "PAID",
         "documents": Jsonb([]), "created_at": "2024-03-02 10:00:00"},
        {"id": 3, "car_id": 4, "buyer_id": 3, "seller_id": 2, "final_price": -1, "status": "weird",
         "documents": Jsonb({"not": "a list"})},
        {"id": 4, "car_id": 4, "buyer_id": 3, "seller_id": 2, "final_price": 4000, "status": "Pending Payment",
         "documents": None},
    ],
    "inquiries": [
        {"id": 1, "car_id": 1, "user_id": 3, "seller_id": 2, "message": "Hi", "status": "Responded",
         "type": "GENERAL"},
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
        {"id": 4, "car_id": 4, "user_id": 3, "user_name": "Old Buyer", "rating": 3, "comment": None},
        {"id": 5, "car_id": 4, "user_id": 4, "user_name": "Odd Role", "rating": -3, "comment": "hated it"},
    ],
    "favorites": [
        {"id": 1, "user_id": 3, "car_id": 1},
        {"id": 2, "user_id": 3, "car_id": 2},
    ],
    # Car 1: two primaries, car 2: none, car 4: the data: URLs, car 5: broken ones and links.
    "car_images": [
        {"id": 1, "car_id": 4, "is_primary": True, "display_order": 0},
        {"id": 2, "car_id": 4, "is_primary": False, "display_order": 1},
        {"id": 3, "car_id": 4, "is_primary": False, "display_order": 2},
        {"id": 4, "car_id": 1, "is_primary": True, "display_order": 1},
        {"id": 5, "car_id": 1, "is_primary": True, "display_order": 0},
        {"id": 6, "car_id": 5, "is_primary": True, "display_order": 0},
        {"id": 7, "car_id": 5, "is_primary": False, "display_order": 1},
        {"id": 8, "car_id": 5, "is_primary": False, "display_order": 2},
        {"id": 9, "car_id": 2, "is_primary": False, "display_order": -1},
        {"id": 10, "car_id": 5, "is_primary": False, "display_order": 3},
    ],
    "admin_actions": [
        {"id": 1, "admin_id": 1, "action_type": "update_user", "target_id": 3,
         "details": Jsonb(json.dumps(DETAILS))},
        {"id": 2, "admin_id": 1, "action_type": "create_seller", "target_id": 2, "details": Jsonb({"ok": True})},
        {"id": 3, "admin_id": 1, "action_type": "note", "target_id": None, "details": Jsonb("plain text, not JSON")},
    ],
}
for _row in LEGACY_ROWS["car_images"]:
    _row["image_url"] = _image_url(_row["id"])

# (table, row id, column) -> [(old value, new value), ...] as JSON values; '*' rows were removed whole.
EXPECTED_REPAIRS = {
    ("users", 4, "role"): [("Admin", "user")],
    ("users", 5, "role"): [("", "user")],
    ("cars", 1, "status"): [("Approved", "available")],
    ("cars", 2, "status"): [("SOLD", "sold")],
    ("cars", 3, "status"): [("bogus", "pending")],
    ("cars", 5, "status"): [(" Reserved ", "reserved")],
    ("cars", 5, "price"): [(-5, 0)],
    ("orders", 2, "status"): [("PAID", "paid"), ("paid", "cancelled")],
    ("orders", 3, "status"): [("weird", "draft")],
    ("orders", 4, "status"): [("Pending Payment", "pending_payment")],
    ("orders", 3, "final_price"): [(-1, 0)],
    ("orders", 1, "documents"): [(json.dumps(DOCUMENTS), DOCUMENTS)],
    ("orders", 3, "documents"): [({"not": "a list"}, [])],
    ("inquiries", 1, "status"): [("Responded", "responded")],
    ("inquiries", 1, "type"): [("GENERAL", "general")],
    ("inquiries", 2, "type"): [("Test Drive", "test_drive")],
    ("inquiries", 3, "type"): [("test-drive", "test_drive")],
    ("reviews", 1, "rating"): [(7, 5)],
    ("reviews", 3, "rating"): [(0, 1)],
    ("reviews", 5, "rating"): [(-3, 1)],
    ("reviews", 2, "*"): [("whole row", None)],
    ("car_images", 4, "is_primary"): [(True, False)],
    ("car_images", 9, "display_order"): [(-1, 0)],
    ("car_images", 9, "is_primary"): [(False, True)],
    ("car_images", 6, "image_url"): [(BROKEN_IMAGES[6], None)],
    ("car_images", 7, "image_url"): [(BROKEN_IMAGES[7], None)],
    ("car_images", 8, "image_url"): [(BROKEN_IMAGES[8], None)],
    # Without link or bytes they are no images (0036): removed whole; car 5's next image becomes primary.
    ("car_images", 6, "*"): [("whole row", None)],
    ("car_images", 7, "*"): [("whole row", None)],
    ("car_images", 8, "*"): [("whole row", None)],
    ("car_images", 10, "is_primary"): [(False, True)],
    ("admin_actions", 1, "details"): [(json.dumps(DETAILS), DETAILS)],
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
