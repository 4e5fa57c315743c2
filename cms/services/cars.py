"""Cars: the list (filters, search, sort, paging), the detail, listing, editing and removing a car.

Rules: a new listing is `pending` and belongs to its seller; only its seller or an admin edits
or removes it; a car with orders cannot be removed (409); a price sent back unchanged from an
edit form that showed the discounted price is not a new price.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import ExitStack

from psycopg import Connection
from psycopg_pool import ConnectionPool

from cms.errors import Conflict, Invalid, NotFound, Unavailable
from cms.repositories import cars as cars_repo
from cms.repositories import revalidation as revalidation_repo
from cms.services import cursors
from cms.services import settings as settings_service
from cms.services.access import Caller, managed_car
from cms.services.images import file_path, with_public_urls
from cms.services.settings import RuntimeSettings

PRICE_COLUMNS = ("original_price", "discount_label")
# A list without `limit` (every car: ~550 MB of JSON at a million cars) is read in batches of this
# many cars, each after the previous one (cursor paging inside one snapshot), so a worker holds
# one batch at a time whatever the number of cars.
STREAM_BATCH_ROWS = 1000


def _cursor_needs_limit() -> Invalid:
    return Invalid("A cursor needs limit", {"limit": ["Required with cursor."]})


class CarPage:
    """One page of cars as the API shows them, read lazily from the list queries: `rows` are tuples
    (`columns` maps names to positions; see cms.schemas.cars.LIST_COLUMNS), priced and with
    absolute image URLs."""

    def __init__(self, cars: cars_repo.CarList, *, runtime: RuntimeSettings | None, base_url: str):
        self._cars = cars
        self.columns = {**cars.columns, **{name: len(cars.columns) + n for n, name in enumerate(PRICE_COLUMNS)}}
        self.rows = self._presented(cars.rows, settings_service.pricer(runtime), base_url)

    def _presented(self, rows, price, base_url: str) -> Iterator[tuple]:
        columns = self._cars.columns
        price_at, has_file = columns["price"], columns["primary_image_has_file"]
        url_at, image_id, image_car_id = (columns["primary_image_image_url"], columns["primary_image_id"],
                                          columns["primary_image_car_id"])
        unpriced = (None, None)
        for row in rows:
            if row[has_file]:
                row = (*row[:url_at], base_url + file_path(row[image_car_id], row[image_id]), *row[url_at + 1:])
            if price is None or row[price_at] is None:
                yield row + unpriced
            else:
                shown, original, label = price(row[price_at])
                yield (*row[:price_at], shown, *row[price_at + 1:], original, label)

    @property
    def total(self) -> int:
        return self._cars.total

    @property
    def capped(self) -> bool:
        return self._cars.capped

    def last_position(self) -> tuple[str | None, int] | None:
        """(sort key as text, id) of the page's last car: where the next page starts."""
        return self._cars.last_position()

    @property
    def read(self) -> int:
        return self._cars.read


def list_filters(filters: dict) -> dict:
    """The filters a cursor is bound to (not sort, limit, offset or cursor)."""
    return cars_repo.filter_params(filters)


def list_cars(conn: Connection, filters: dict, *, runtime: RuntimeSettings | None, base_url: str,
              cursor_secret: str = "", listed_only: bool = True) -> CarPage:
    """The matching cars with their primary image, and how many match (see cms.repositories.cars).

    `filters` may carry `cursor` (from a previous page's next_cursor): the page then starts after
    the car it names. Invalid (400) for a changed cursor, one of another list, or one without limit
    or with an offset. listed_only (every public list): without the cars of deactivated sellers,
    which are hidden until the seller is reactivated; the admin's list shows them.
    """
    filters = dict(filters)
    cursor = filters.pop("cursor", None)
    if cursor is not None:
        if filters.get("limit") is None:
            raise _cursor_needs_limit()
        if filters.get("offset"):
            raise Invalid("Give either cursor or offset, not both", {"offset": ["Not allowed with cursor."]})
        position = cursors.decode(cursor, sort=filters.get("sort", "newest"), filters=list_filters(filters),
                                  secret=cursor_secret)
        filters["after"] = (position.key, position.id)
    return CarPage(cars_repo.list_cars(conn, listed_only=listed_only, **filters), runtime=runtime, base_url=base_url)


def next_cursor(page: CarPage, filters: dict, *, cursor_secret: str) -> str | None:
    """After every row of a page was read: the cursor of the page after it, or None when the page
    was not full (nothing follows)."""
    last = page.last_position()
    if last is None or filters.get("limit") is None or page.read < filters["limit"]:
        return None
    position = cursors.Position(filters.get("sort", "newest"), *last)
    return cursors.encode(position, list_filters(filters), cursor_secret)


_stream_slots: weakref.WeakKeyDictionary[ConnectionPool, threading.BoundedSemaphore] = weakref.WeakKeyDictionary()
_stream_slots_lock = threading.Lock()


def _slots_of(pool: ConnectionPool) -> threading.BoundedSemaphore:
    """Half of a pool's connections, at least one, is what streams may hold at once: a stream
    keeps its connection for as long as its client reads, so the other half stays for every
    other request whatever the streams' clients do."""
    with _stream_slots_lock:
        if pool not in _stream_slots:
            _stream_slots[pool] = threading.BoundedSemaphore(max(1, pool.max_size // 2))
        return _stream_slots[pool]


class CarStream:
    """Every matching car (no limit), read STREAM_BATCH_ROWS at a time from one REPEATABLE READ
    snapshot on a connection of its own: the count and every batch see the same cars, and the
    connection outlives the request that started it (the body is sent after the handler returned).
    `version`: the change counter (data_version) in that snapshot, the state the answer shows.
    At most half of the pool's connections serve streams at once (_slots_of); past that a stream
    is a 503 at once (to wait for a slot would hold a request thread, which is what a flood of
    slow readers wants).
    The server stops asking for batches when the client stops reading (cms/asgi.py); should the
    stream still be left open, PostgreSQL ends its session after `idle_timeout_ms` idle in the
    transaction, so that no snapshot is held for a client.

    `first` (the first batch) is read on opening, so that a failure there is still an error
    answer; `rest()` yields the other batches and closes the stream when done, failed or abandoned.
    `close()` is idempotent: call it when the body is never iterated.
    """

    def __init__(self, pool: ConnectionPool, filters: dict, *, runtime: RuntimeSettings | None, base_url: str,
                 idle_timeout_ms: int, listed_only: bool = True):
        filters = dict(filters)
        if filters.pop("cursor", None) is not None:
            raise _cursor_needs_limit()
        filters["listed_only"] = listed_only
        self._filters, self._runtime, self._base_url = filters, runtime, base_url
        self._stack = ExitStack()
        slots = _slots_of(pool)
        if not slots.acquire(blocking=False):  # waiting would hold a request thread
            raise Unavailable("Too many whole-list downloads at once: please retry shortly, or ask for pages (limit)")
        self._stack.callback(slots.release)
        try:
            self._conn = self._stack.enter_context(pool.connection())
            self._stack.enter_context(self._conn.transaction())
            cars_repo.read_snapshot(self._conn)
            cars_repo.end_session_if_idle(self._conn, idle_timeout_ms)
            self.version = revalidation_repo.data_version(self._conn)  # the state every batch shows
            self.total = cars_repo.count_cars(self._conn, **filters)
            self.first, self._after = self._batch(None, filters.get("offset", 0))
        except BaseException:
            self.close()
            raise
        if self._after is None:
            self.close()

    @property
    def complete(self) -> bool:
        """Whether `first` holds every match (nothing more to read)."""
        return self._after is None

    def _batch(self, after: tuple | None, offset: int) -> tuple[list[tuple], tuple | None]:
        cars = cars_repo.list_cars(self._conn, **{**self._filters, "limit": STREAM_BATCH_ROWS, "offset": offset,
                                                  "after": after}, count=False)
        page = CarPage(cars, runtime=self._runtime, base_url=self._base_url)
        self.columns = page.columns  # the same in every batch (cms.schemas.cars.LIST_COLUMNS names)
        rows = list(page.rows)
        return rows, (page.last_position() if page.read == STREAM_BATCH_ROWS else None)

    def rest(self) -> Iterator[list[tuple]]:
        try:
            while self._after is not None:
                rows, self._after = self._batch(self._after, 0)
                if rows:
                    yield rows
        finally:
            self.close()

    def close(self) -> None:
        self._stack.close()


def get_car(conn: Connection, car_id: int, *, runtime: RuntimeSettings | None, base_url: str) -> dict:
    """The car with its images, average rating and review count; 404 when unknown."""
    car = cars_repo.get_car_detail(conn, car_id)
    if car is None:
        raise NotFound()
    car["images"] = with_public_urls(car["images"], base_url)
    return settings_service.priced(car, runtime)


def create_car(conn: Connection, caller: Caller, fields: dict, *, runtime: RuntimeSettings | None) -> dict:
    """A new pending listing of the caller."""
    with conn.transaction():
        car = cars_repo.insert_car(conn, seller_id=caller.id, fields=fields)
    return settings_service.priced(car, runtime)


def update_car(conn: Connection, caller: Caller, car_id: int, changes: dict, *,
               runtime: RuntimeSettings | None) -> dict:
    """Apply the editable fields in `changes` to the caller's car (an admin's: any car)."""
    with conn.transaction():
        current = managed_car(caller, cars_repo.lock_car(conn, car_id))
        # While a global discount is shown, an edit form sends back the discounted price it
        # displayed: that is not a new price, or each save would discount the car again.
        if "price" in changes and current["price"] is not None and runtime is not None and \
                changes["price"] == runtime.discounted(current["price"]) != current["price"]:
            del changes["price"]
        car = cars_repo.update_car(conn, car_id, changes)
    return settings_service.priced(car, runtime)


def delete_car(conn: Connection, caller: Caller, car_id: int) -> None:
    """Remove the caller's car (an admin's: any car) and its images; 409 when it has orders."""
    with conn.transaction():
        # The lock also keeps new orders (their foreign key check) out until we are done.
        managed_car(caller, cars_repo.lock_car(conn, car_id))
        orders = cars_repo.order_count(conn, car_id)
        if orders:
            raise Conflict(
                f"This listing has {orders} order{'s' if orders != 1 else ''} and cannot be removed; "
                "mark it sold or reserved instead"
            )
        cars_repo.delete_car(conn, car_id)
