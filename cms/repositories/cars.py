"""Cars: the filtered list (with primary images), detail, create, edit, delete, approval."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator

from psycopg import Connection

from cms.db import Query, execute, fetch_one, fetch_rows, fetch_value, query
from cms.db.queries import filter_conditions, with_filters

LIST_SNAPSHOT = query("cars_list_snapshot")
END_SESSION_IF_IDLE = query("end_session_if_idle_in_transaction")
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
# The list's conditions (sql/queries/car_list.sql, car_list_filters): LIST_FILTERS and `listed`
# (every public list: not the cars of a deactivated seller).
LIST_CONDITIONS = filter_conditions(query("car_list_filters"))
LISTED = "listed"
# One page query per sort order (car_list_<sort>) and two counts.
LIST_PAGES = {sort: query(f"car_list_{sort}") for sort in (
    "newest", "oldest", "price_asc", "price_desc", "year_asc", "year_desc", "relevance")}
# Relevance with a filter beside q reads the lowest-rank matches in bounded steps (the query says why).
RELEVANCE_FILTERED = query("car_list_relevance_filtered")
PAGE_ROWS = query("car_list_page_rows")
COUNT_UNORDERED = query("car_list_count")
COUNT_NEWEST_FIRST = query("car_list_count_newest_first")
PRIMARY_IMAGE_PREFIX = "primary_image_"
# Each page query takes the previous page's last sort key in the parameter of its type.
SORT_KEY_PARAMS = {
    "newest": "after_time", "oldest": "after_time", "price_asc": "after_price", "price_desc": "after_price",
    "year_asc": "after_year", "year_desc": "after_year", "relevance": "after_rank",
}
# A page's total is counted exactly up to this many matches (or up to the end of the page
# asked for, when that is further); beyond it the count stops. An exact count of a million
# matches costs O(matches) in PostgreSQL whatever the indexes, and the count must cost less
# than the page it comes with: 1,001 rows counted took four times a page's query (0.25 ms
# against 1.0 ms at 10k, bench generic-plan table), 101 rows about half.
COUNT_CAP = 100


class CarList:
    """One page of a car list query: `rows` as tuples (`columns` maps names to positions), read
    lazily (iterate them while the connection is held), and the match count.

    Each row holds the car's columns and its primary image as primary_image_* columns;
    timestamps are PostgreSQL's ISO text ('2026-03-04 05:06:07.891234'), not datetimes.
    `positions` are the (sort key as text, id) of the cars the page query found, in order: they,
    not the rows, say where the next page starts (a car deleted between the two statements is
    missing from the rows, not from the list). `total` (matches, counted up to the cap) and
    `capped` (more than `total` cars match).
    """

    def __init__(self, columns: list[str], rows: Iterator[tuple], positions: list[tuple[str | None, int]], *,
                 counted: int, cap: int | None):
        self.columns = {name: position for position, name in enumerate(columns)}
        self._counted, self._cap, self._positions = counted, cap, positions
        self.rows = rows

    @property
    def read(self) -> int:
        """How many cars the page query found."""
        return len(self._positions)

    def last_position(self) -> tuple[str | None, int] | None:
        """(sort key as text, id) of the page's last car: where the next page starts; None when empty."""
        return self._positions[-1] if self._positions else None

    @property
    def total(self) -> int:
        if self._cap is None:  # every match from offset on is in the page; the count stopped at offset
            return self._counted + len(self._positions)
        return min(self._counted, self._cap)

    @property
    def capped(self) -> bool:
        return self._cap is not None and self._counted > self._cap


def count_cap(*, q: str | None, limit: int | None, offset: int) -> int | None:
    """Up to how many matches a page counts; None for a list without limit (it has them all).

    With q only up to the end of the page: a common word matches a fifth of the cars, and
    PostgreSQL can only find them all (the GIN bitmap) or test each car in turn, so counting
    1,000 of them would cost more than the page.
    """
    if limit is None:
        return None
    if q is not None:
        return offset + limit
    return max(COUNT_CAP, offset + limit)


def filter_params(filters: dict) -> dict:
    """The list's filter parameters (LIST_FILTERS), None for each one not given."""
    return {name: filters.get(name) for name in LIST_FILTERS}


@functools.cache
def list_statement(template: Query, conditions: tuple[str, ...]) -> Query:
    """A list query with these conditions (names of LIST_CONDITIONS) in its {filters} slot.

    Prepared (after psycopg's five runs) when `listed` is its only condition, or it has none:
    its generic plan walks the sort order's index like a custom one (tests/test_query_plans.py).
    Never prepared with any filter: a generic plan cannot know how rare a word, a brand or a
    price range is, and walks the sort order's index testing every car for a rare one, where a
    plan for the values uses the filter's index.
    """
    return with_filters(template, LIST_CONDITIONS, conditions,
                        prepare=None if set(conditions) <= {LISTED} else False)


def page_query(sort: str, conditions: tuple[str, ...]) -> Query:
    """The sort order's page query with these conditions in its {filters} slot."""
    template = LIST_PAGES[sort]
    if sort == "relevance" and set(conditions) - {LISTED, "q"}:
        template = RELEVANCE_FILTERED
    return list_statement(template, conditions)


def _conditions(params: dict, listed_only: bool) -> tuple[str, ...]:
    return ((LISTED,) if listed_only else ()) + tuple(name for name in LIST_FILTERS if params[name] is not None)


def _count(conn: Connection, conditions: tuple[str, ...], params: dict, count_limit: int | None) -> int:
    """Matches of the conditions up to count_limit (None: every one)."""
    filtered = set(conditions) - {LISTED}
    # With no filter or with q, walking the newest-first index stops soonest (see the queries).
    template = COUNT_NEWEST_FIRST if not filtered or "q" in filtered else COUNT_UNORDERED
    return int(fetch_value(conn, list_statement(template, conditions), {**params, "count_limit": count_limit}))


def list_cars(conn: Connection, *, sort: str = "newest", limit: int | None = None, offset: int = 0,
              after: tuple[str | None, int] | None = None, count: bool = True, listed_only: bool = True,
              **filters) -> CarList:
    """One page of matching cars (primary image columns flat) and how many cars match.

    At most three statements whatever the number of cars: the capped count, the sort order's
    page query (sql/queries/car_list.sql) with the filters given, which finds the page's ids,
    and car_list_page_rows, which reads those cars. A first page (no `after`) near the start
    (up to COUNT_CAP matches in) needs no count of its own: its page query reads every match up
    to the cap in the sort order, which counts them and holds the page (the count would have
    walked the same cars). `after` = (sort key as text, id) of the previous page's last row
    (CarList.last_position): the page starts after it, at the cost of a first page. Without
    limit the count only goes up to offset: the rows themselves are the rest; count=False skips
    counting. listed_only (public lists): without the cars of deactivated sellers.
    """
    params = filter_params(filters)
    conditions = _conditions(params, listed_only)
    cap = count_cap(q=params["q"], limit=limit, offset=offset)
    count_limit = 0 if not count else offset if cap is None else cap + 1
    params.update(dict.fromkeys(("after_time", "after_price", "after_year", "after_rank", "after_id")))
    if after is not None:
        params[SORT_KEY_PARAMS[sort]], params["after_id"] = after
    if sort == "relevance" and params["q"] is None:  # nothing to rank: no car (the columns, no rows)
        sort, limit = "newest", 0
    counting_page = after is None and cap is not None and count_limit and count_limit <= COUNT_CAP + 1 and limit
    if counting_page:  # the matches from the start up to the cap: their number, and the page among them
        params.update(limit=count_limit, offset=0)
        matches = _positions(conn, page_query(sort, conditions), params)
        counted, positions = len(matches), matches[offset:offset + limit]
    else:
        counted = _count(conn, conditions, params, count_limit) if count_limit else 0
        params.update(limit=limit, offset=offset)
        positions = _positions(conn, page_query(sort, conditions), params)
    columns, rows = fetch_rows(conn, PAGE_ROWS, {"ids": [car_id for _, car_id in positions]}, timestamps_as_text=True)
    return CarList(columns, rows, positions, counted=counted, cap=cap)


def _positions(conn: Connection, page_query: Query, params: dict) -> list[tuple[str | None, int]]:
    """(sort key as text, id) of each car a page query finds, in its order."""
    _, found = fetch_rows(conn, page_query, params)
    return [(sort_key, car_id) for car_id, sort_key in found]


def read_snapshot(conn: Connection) -> None:
    """Make the transaction just begun one snapshot (REPEATABLE READ)."""
    execute(conn, LIST_SNAPSHOT)


def end_session_if_idle(conn: Connection, timeout_ms: int) -> None:
    """PostgreSQL ends the session if this transaction waits on the client longer than timeout_ms."""
    execute(conn, END_SESSION_IF_IDLE, {"timeout_ms": timeout_ms})


def count_cars(conn: Connection, *, listed_only: bool = True, **filters) -> int:
    """How many cars match the filters (every one: O(matches)); for a list without limit."""
    params = filter_params(filters)
    return _count(conn, _conditions(params, True), params, None)


def nest_primary_image(columns: dict[str, int], row: tuple) -> dict:
    """A list query row as a car dict with `primary_image` (a dict or None) and datetimes, as
    CarListItemSchema dumps it."""
    car, image = {}, {}
    for key, position in columns.items():
        value = row[position]
        if key.endswith(("created_at", "updated_at")):
            value = _timestamp(value)
        if key.startswith(PRIMARY_IMAGE_PREFIX):
            image[key[len(PRIMARY_IMAGE_PREFIX):]] = value
        else:
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
