"""Car images (car_images) and their stored bytes (car_image_files).

Call the writes after cms.repositories.cars.lock_car on the same transaction:
the car row lock is what serialises the count limit and the primary flag.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import Connection

from cms.db import execute, fetch_all, fetch_one, query

LIST_IMAGES = query("car_images_list")
GET_IMAGE = query("car_images_get")
IMAGE_STATS = query("car_images_stats")
INSERT_IMAGE_WITH_FILE = query("car_images_insert_with_file")
CLEAR_PRIMARY = query("car_images_clear_primary")
UPDATE_IMAGE = query("car_images_update")
DELETE_IMAGE = query("car_images_delete")
PROMOTE_FIRST = query("car_images_promote_first")
GET_FILE = query("car_images_get_file")


def list_images(conn: Connection, car_id: int) -> list[dict]:
    """The car's images ordered by display_order (no bytes)."""
    return fetch_all(conn, LIST_IMAGES, {"car_id": car_id})


def get_image(conn: Connection, car_id: int, image_id: int) -> dict | None:
    """The image when it belongs to the car, else None."""
    return fetch_one(conn, GET_IMAGE, {"car_id": car_id, "image_id": image_id})


def image_stats(conn: Connection, car_id: int) -> dict:
    """{image_count, next_display_order, has_primary} of the car."""
    return fetch_one(conn, IMAGE_STATS, {"car_id": car_id})


def insert_image_with_file(conn: Connection, car_id: int, *, is_primary: bool, display_order: int,
                           content: bytes, content_type: str, width: int, height: int, etag: str) -> dict:
    """Store one processed image (row and bytes); returns the image row."""
    return fetch_one(conn, INSERT_IMAGE_WITH_FILE, {
        "car_id": car_id,
        "is_primary": is_primary,
        "display_order": display_order,
        "content": content,
        "content_type": content_type,
        "byte_size": len(content),
        "width": width,
        "height": height,
        "etag": etag,
    })


def update_image(conn: Connection, car_id: int, image_id: int, *, make_primary: bool,
                 display_order: int | None) -> dict | None:
    """Make the image the car's only primary one (when asked) and/or move it; returns it."""
    if make_primary:
        execute(conn, CLEAR_PRIMARY, {"car_id": car_id, "image_id": image_id})
    return fetch_one(conn, UPDATE_IMAGE, {
        "car_id": car_id, "image_id": image_id, "make_primary": make_primary, "display_order": display_order,
    })


def delete_image(conn: Connection, car_id: int, image_id: int) -> dict | None:
    """Remove the image; when it was primary, the first remaining image becomes primary.

    Returns {id, is_primary} of the removed image, or None when the car has no such image.
    """
    removed = fetch_one(conn, DELETE_IMAGE, {"car_id": car_id, "image_id": image_id})
    if removed is not None and removed["is_primary"]:
        execute(conn, PROMOTE_FIRST, {"car_id": car_id})
    return removed


def get_file(conn: Connection, car_id: int, image_id: int, known_etags: Iterable[str] = ()) -> dict | None:
    """{content_type, etag, byte_size, content}; content is None when its etag is in known_etags."""
    return fetch_one(conn, GET_FILE, {"car_id": car_id, "image_id": image_id, "known_etags": list(known_etags)})
