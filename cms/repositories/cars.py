"""Cars: the filtered list (with primary images), detail, create, edit, delete, approval."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

from psycopg import Connection

from cms.db import execute, fetch_one, fetch_rows, fetch_value, query

LIST_CARS = query("cars_list")
LIST_SNAPSHOT = query("cars_list_snapshot")
GET_CAR_DETAIL = query("cars_get_detail")
GET_CAR = query("cars_get")
LOCK_CAR = query("cars_lock")
INSERT_CAR = query("cars_insert")
UPDATE_CAR = query("cars_update")
ORDER_COUNT = query("cars_order_count")
DELETE_CAR = query("cars_delete")
SET_APPROVAL = query("cars_set_approval")
SET_STATUS = query("cars_set_status")

EDITABLE_FIELDS = ("title", "price", "description", "brand", "model", "year", "fuel_type", "image")
LIST_FILTERS = (
    "q", "brand", "model", "fuel_type", "status", "seller_id",
    "min_price", "max_price", "min_year", "max_year",
)
PRIMARY_IMAGE_PREFIX = "primary_image_"
# cars_list takes the previous page's last sort key in the parameter of its type.
SORT_KEY_PARAMS = {
    "newest": "after_time", "oldest": "after_time", "price_asc": "after_price", "price_desc": "after_price",
    "year_asc": "after_year", "year_desc": "after_year", "relevance": "after_rank",
}
# No cursor: every sort key parameter and after_id None (the page starts at the beginning).
_NO_CURSOR = dict.fromkeys([*SORT_KEY_PARAMS.values(), "after_id"])
# A page's total is counted exactly up to this many matches (or up to the end of the page
# asked for, when that is further); beyond it the count stops. An exact count of a million
# matches costs O(matches) in PostgreSQL whatever the indexes.
COUNT_CAP = 1000
# sort=relevance ranks this many matches, the newest ones, and lists only them: ranking reads each
# candidate's whole text (to_tsvector), and so does finding it, so ranking every match of a common
# word cost seconds at a million cars. Measured at 1M: 40 candidates made a relevance page cost
# 1.95 default pages for the same q; the target is 1.5 (bench/README.md). README.md says what a
# user gives up.
RELEVANCE_CANDIDATES = 25


class CarList:
    """One page of cars_list: `rows` as tuples (`columns` maps names to positions), read lazily
    (iterate them while the connection is held), and the match count.

    Each row holds the car's columns and its primary image as primary_image_* columns;
    timestamps are PostgreSQL's ISO text ('2026-03-04 05:06:07.891234'), not datetimes.
    `total` (matches, counted up to the cap) and `capped` (more than `total` cars match)
    are known once every row has been read.
    """

    def __init__(self, columns: list[str], rows: Iterator[tuple], *, counted: int, cap: int | None):
        self.columns = {name: position for position, name in enumerate(columns)}
        self._counted, self._cap, self._read = counted, cap, 0
        self.last: tuple | None = None
        self.rows = self._counting(rows)

    def _counting(self, rows: Iterator[tuple]) -> Iterator[tuple]:
        for row in rows:
            self._read += 1
            self.last = row
            yield row

    @property
    def read(self) -> int:
        """How many rows were read so far."""
        return self._read

    def last_position(self) -> tuple[str | None, int] | None:
        """(sort key as text, id) of the last row read: where the next page starts; None before any row."""
        if self.last is None:
            return None
        return self.last[self.columns["sort_key"]], self.last[self.columns["id"]]

    @property
    def total(self) -> int:
        if self._cap is None:  # every match from offset on is in the rows; the count stopped at offset
            return self._counted + self._read
        return min(self._counted, self._cap)

    @property
    def capped(self) -> bool:
        return self._cap is not None and self._counted > self._cap


def count_cap(*, q: str | None, limit: int | None, offset: int) -> int | None:
    """Up to how many matches a page counts; None for a list without limit (it has them all).

    With q only up to the end of the page: a common word matches a tenth of the cars, and
    PostgreSQL can only find them all (the GIN bitmap) or test each car in turn, so counting
    1,000 of them would cost ~100 ms at a million cars against ~5 ms for the page.
    """
    if limit is None:
        return None
    if q is not None:
        return offset + limit
    return max(COUNT_CAP, offset + limit)


def filter_params(filters: dict) -> dict:
    """cars_list's filter parameters (LIST_FILTERS), None for each one not given."""
    return {name: filters.get(name) for name in LIST_FILTERS}


def list_cars(conn: Connection, *, sort: str = "newest", limit: int | None = None, offset: int = 0,
              after: tuple[str | None, int] | None = None, count: bool = True, **filters) -> CarList:
    """One page of matching cars (primary image columns flat) and how many cars match.

    One SQL statement whatever the number of cars (see cars_list in sql/queries/cars.sql).
    `after` = (sort key as text, id) of the previous page's last row (CarList.last_position):
    the page starts after it, at the cost of a first page. Without limit the count only
    goes up to offset: the rows themselves are the rest; count=False skips counting.
    """
    params = {**filter_params(filters), **_NO_CURSOR}
    cap = count_cap(q=params["q"], limit=limit, offset=offset)
    if after is not None:
        params[SORT_KEY_PARAMS[sort]], params["after_id"] = after
    params.update(sort=sort, limit=limit, offset=offset, relevance_candidates=RELEVANCE_CANDIDATES,
                  count_limit=0 if not count else offset if cap is None else cap + 1)
    columns, rows = fetch_rows(conn, LIST_CARS, params, timestamps_as_text=True)
    first = next(rows, None)
    counted = first[columns.index("total_count")] if first else 0
    if first is None or first[columns.index("id")] is None:  # no match, or offset past the end: no car
        rows = iter(())
    else:
        rows = itertools.chain((first,), rows)
    return CarList(columns, rows, counted=counted, cap=cap)


def read_snapshot(conn: Connection) -> None:
    """Make the transaction just begun one snapshot (REPEATABLE READ)."""
    execute(conn, LIST_SNAPSHOT)


def count_cars(conn: Connection, **filters) -> int:
    """How many cars match the filters (every one: O(matches)); for a list without limit."""
    params = {**filter_params(filters), **_NO_CURSOR}
    params.update(sort="newest", limit=0, offset=0, relevance_candidates=0, count_limit=None)
    columns, rows = fetch_rows(conn, LIST_CARS, params)
    [row] = list(rows)  # one row: the count (and no car, limit 0)
    return int(row[columns.index("total_count")])


def nest_primary_image(columns: dict[str, int], row: tuple) -> dict:
    """A cars_list row as a car dict with `primary_image` (a dict or None) and datetimes, as
    CarListItemSchema dumps it."""
    car, image = {}, {}
    for key, position in columns.items():
        value = row[position]
        if key.endswith(("created_at", "updated_at")):
            value = _timestamp(value)
        if key.startswith(PRIMARY_IMAGE_PREFIX):
            image[key[len(PRIMARY_IMAGE_PREFIX):]] = value
        elif key not in ("total_count", "rank", "sort_key"):
            car[key] = value
    car["primary_image"] = image if image["id"] is not None else None
    return car


def get_car_detail(conn: Connection, car_id: int) -> dict | None:
    """The car with average_rating, review_count and images (as car_images_list returns them), or None."""
    car = fetch_one(conn, GET_CAR_DETAIL, {"id": car_id})
    if car is not None:
        for image in car["images"]:  # JSON from PostgreSQL: timestamps arrive as ISO text
            image["created_at"] = _timestamp(image["created_at"])
            image["updated_at"] = _timestamp(image["updated_at"])
    return car


def _timestamp(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def get_car(conn: Connection, car_id: int) -> dict | None:
    return fetch_one(conn, GET_CAR, {"id": car_id})


def lock_car(conn: Connection, car_id: int) -> dict | None:
    """The car, locked (FOR NO KEY UPDATE) until the transaction ends; None when it does not exist.

    The first lock of every write to a car, its images or its sale: take it before any order lock.
    """
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


def set_status(conn: Connection, car_id: int, status: str) -> dict | None:
    """Set the car's status; the updated car, or None."""
    return fetch_one(conn, SET_STATUS, {"id": car_id, "status": status})


def set_approval(conn: Connection, car_id: int, *, status: str, rejection_reason: str | None) -> dict | None:
    return fetch_one(conn, SET_APPROVAL, {"id": car_id, "status": status, "rejection_reason": rejection_reason})


CARS_EXISTS = query("cars_exists")
CARS_LISTED = query("cars_listed")


def car_exists(conn: Connection, car_id: int) -> bool:
    """Whether the car exists (for 404s before writing rows that reference it)."""
    return bool(fetch_value(conn, CARS_EXISTS, {"car_id": car_id}))


def car_listed(conn: Connection, car_id: int) -> bool:
    """Whether the car is listed publicly: it exists and its seller is not deactivated."""
    return bool(fetch_value(conn, CARS_LISTED, {"car_id": car_id}))
