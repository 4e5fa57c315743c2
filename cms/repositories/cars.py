"""Cars: the filtered list (with primary images), detail, create, edit, delete, approval."""

from __future__ import annotations

from psycopg import Connection

from cms.db import execute, fetch_all, fetch_one, fetch_value
from cms.sql import query

LIST_CARS = query("cars_list")
GET_CAR_DETAIL = query("cars_get_detail")
GET_CAR = query("cars_get")
LOCK_CAR = query("cars_lock")
INSERT_CAR = query("cars_insert")
UPDATE_CAR = query("cars_update")
ORDER_COUNT = query("cars_order_count")
DELETE_CAR = query("cars_delete")
SET_APPROVAL = query("cars_set_approval")

EDITABLE_FIELDS = ("title", "price", "description", "brand", "model", "year", "fuel_type", "image")
LIST_FILTERS = (
    "q", "brand", "model", "fuel_type", "status", "seller_id",
    "min_price", "max_price", "min_year", "max_year",
)
PRIMARY_IMAGE_PREFIX = "primary_image_"


def list_cars(conn: Connection, *, sort: str = "newest", limit: int | None = None, offset: int = 0,
              **filters) -> tuple[list[dict], int]:
    """One page of matching cars, each with `primary_image` (a dict or None), and the total match count.

    One SQL statement whatever the number of cars (see cars_list in sql/queries/cars.sql).
    """
    params = {name: filters.get(name) for name in LIST_FILTERS}
    params.update(sort=sort, limit=limit, offset=offset)
    rows = fetch_all(conn, LIST_CARS, params)
    total = rows[0]["total_count"] if rows else 0
    return [_nest_primary_image(row) for row in rows if row["id"] is not None], total


def _nest_primary_image(row: dict) -> dict:
    car, image = {}, {}
    for key, value in row.items():
        if key.startswith(PRIMARY_IMAGE_PREFIX):
            image[key[len(PRIMARY_IMAGE_PREFIX):]] = value
        elif key != "total_count":
            car[key] = value
    car["primary_image"] = image if image["id"] is not None else None
    return car


def get_car_detail(conn: Connection, car_id: int) -> dict | None:
    """The car with average_rating and review_count, or None."""
    return fetch_one(conn, GET_CAR_DETAIL, {"id": car_id})


def get_car(conn: Connection, car_id: int) -> dict | None:
    return fetch_one(conn, GET_CAR, {"id": car_id})


def lock_car(conn: Connection, car_id: int) -> dict | None:
    """The car, locked FOR UPDATE until the transaction ends; None when it does not exist."""
    return fetch_one(conn, LOCK_CAR, {"id": car_id})


def insert_car(conn: Connection, *, seller_id: int, fields: dict) -> dict:
    """A new pending listing of the seller; `fields` holds editable fields (missing ones are NULL)."""
    params = {name: fields.get(name) for name in EDITABLE_FIELDS}
    params["seller_id"] = seller_id
    return fetch_one(conn, INSERT_CAR, params)


def update_car(conn: Connection, car_id: int, changes: dict) -> dict | None:
    """Apply the editable fields present in `changes`; any other key is ignored."""
    params: dict = {"id": car_id}
    for name in EDITABLE_FIELDS:
        params[f"set_{name}"] = name in changes
        params[name] = changes.get(name)
    return fetch_one(conn, UPDATE_CAR, params)


def order_count(conn: Connection, car_id: int) -> int:
    return int(fetch_value(conn, ORDER_COUNT, {"id": car_id}))


def delete_car(conn: Connection, car_id: int) -> int:
    return execute(conn, DELETE_CAR, {"id": car_id})


def set_approval(conn: Connection, car_id: int, *, status: str, rejection_reason: str | None) -> dict | None:
    return fetch_one(conn, SET_APPROVAL, {"id": car_id, "status": status, "rejection_reason": rejection_reason})
