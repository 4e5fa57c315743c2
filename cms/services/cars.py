"""Cars: the list (filters, search, sort, paging), the detail, listing, editing and removing a car.

Rules: a new listing is `pending` and belongs to its seller; only its seller or an admin edits
or removes it; a car with orders cannot be removed (409); a price sent back unchanged from an
edit form that showed the discounted price is not a new price.
"""

from __future__ import annotations

from collections.abc import Iterator

from psycopg import Connection

from cms.errors import Conflict, NotFound
from cms.repositories import cars as cars_repo
from cms.services import settings as settings_service
from cms.services.access import Caller, managed_car
from cms.services.images import file_path, with_public_urls
from cms.services.settings import RuntimeSettings

PRICE_COLUMNS = ("original_price", "discount_label")


class CarPage:
    """One page of cars as the API shows them, read lazily from cars_list: `rows` are tuples
    (`columns` maps names to positions; see cms.schemas.cars.LIST_COLUMNS), priced and with
    absolute image URLs. `total` and `capped` are known once every row has been read."""

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


def list_cars(conn: Connection, filters: dict, *, runtime: RuntimeSettings | None, base_url: str) -> CarPage:
    """The matching cars with their primary image, and how many match (see cms.repositories.cars)."""
    return CarPage(cars_repo.list_cars(conn, **filters), runtime=runtime, base_url=base_url)


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
