"""Cars — /api/cars: list (filters, search, sort, paging), detail, create, edit, delete."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, current_app, jsonify
from flask_login import current_user

from cms import db
from cms.auth import roles_required
from cms.errors import Conflict, Forbidden, NotFound
from cms.repositories import cars as cars_repo
from cms.schemas.car_inputs import CarListQuerySchema, CarWriteSchema
from cms.schemas.cars import CarSchema
from cms.schemas.fields import load_json, load_query
from cms.schemas.images import CarDetailSchema, car_list_json
from cms.services import images as images_service
from cms.services import listing_rules
from cms.services import settings as runtime_settings

bp = Blueprint("cars", __name__, url_prefix="/api/cars")

TOTAL_COUNT_HEADER = "X-Total-Count"
TOTAL_COUNT_CAPPED_HEADER = "X-Total-Count-Capped"
# Lists without `limit` (every car: 5.5 MB of JSON at 10,000 cars) are built by one thread per
# process, one at a time. CPU is the limit anyway, and the ~20 MB a build needs then comes from
# (and goes back to) that thread's malloc arena, instead of staying in one arena per server thread.
_UNPAGED_LIST_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cms-unpaged-list")

# Built once (thread-safe for dump; it reads the discount per request, see CarDetailSchema):
# marshmallow's per-instance set-up costs more than dumping one car.
_CAR_DETAIL = CarDetailSchema()


def car_list_response(*, admin: bool = False):
    """The filtered, sorted page of cars with primaryImage (and rejectionReason for the admin list),
    X-Total-Count and, when the count stopped at its cap, X-Total-Count-Capped: true.

    The body is exactly what jsonify(CarListItemSchema(many=True).dump(cars)) sends
    (AdminCarListItemSchema for the admin list), written by cms.schemas.images.car_list_json
    (tests/test_car_list_dump.py).
    """
    filters = load_query(CarListQuerySchema())
    provider = current_app.json
    build = functools.partial(
        _car_list_body, db.connection(), filters, admin=admin, base_url=images_service.public_base_url(),
        runtime=runtime_settings.current(), dumps=provider.dumps,
        indent=2 if (provider.compact is None and current_app.debug) or provider.compact is False else None,
    )
    if filters.get("limit") is None:
        body, total, capped = _UNPAGED_LIST_BUILDER.submit(build).result()
    else:
        body, total, capped = build()
    response = current_app.response_class(body, mimetype=provider.mimetype)
    response.headers[TOTAL_COUNT_HEADER] = str(total)
    if capped:
        response.headers[TOTAL_COUNT_CAPPED_HEADER] = "true"
    return response


def _car_list_body(conn, filters: dict, *, admin: bool, base_url: str, runtime, dumps: Callable[..., str],
                   indent: int | None) -> tuple[bytes, int, bool]:
    """The JSON array of the list's cars (as jsonify makes it), the total and whether it is capped.

    Needs no Flask context (it may run on the builder thread). Rows are read and written out
    as they come: only the JSON text of the cars is kept, never a dict per car.
    """
    cars = cars_repo.list_cars(conn, **filters)
    parts = [text.encode() for text in car_list_json(cars.rows, cars.columns, base_url=base_url, runtime=runtime,
                                                     admin=admin)]
    body = b"[" + b",".join(parts) + b"]\n"
    if indent is not None:  # the indented format of debug mode
        body = f"{dumps(json.loads(body), indent=indent)}\n".encode()
    return body, cars.total, cars.capped


def ensure_can_manage(car: dict | None) -> dict:
    """404 for an unknown car; 403 unless the caller is an admin or the car's seller; 409 when a
    seller changes a sold car. Called by every write to a listing (fields, images, removal)."""
    if car is None:
        raise NotFound()
    is_admin = current_user.role == "admin"
    if not is_admin and car["seller_id"] != current_user.id:
        raise Forbidden()
    listing_rules.ensure_seller_may_change(car, is_admin=is_admin)
    return car


@bp.get("")
@db.replica_reads
def list_cars():
    return car_list_response()


@bp.get("/<id:car_id>")
@db.replica_reads
def get_car(car_id: int):
    car = cars_repo.get_car_detail(db.connection(), car_id)
    if car is None:
        raise NotFound()
    car["images"] = images_service.with_public_urls(car["images"])
    return jsonify(_CAR_DETAIL.dump(car))


@bp.post("")
@roles_required("seller", "admin")
def create_car():
    fields = load_json(CarWriteSchema())
    with db.transaction() as conn:
        car = cars_repo.insert_car(conn, seller_id=current_user.id, fields=fields)
    return jsonify(CarSchema().dump(car))


@bp.put("/<id:car_id>")
@roles_required("seller", "admin")
def update_car(car_id: int):
    changes = load_json(CarWriteSchema(), partial=True)
    with db.transaction() as conn:
        current = cars_repo.lock_car(conn, car_id)
        ensure_can_manage(current)
        # While a global discount is shown, an edit form sends back the discounted price it
        # displayed: that is not a new price, or each save would discount the car again.
        if "price" in changes and current["price"] is not None and \
                changes["price"] == runtime_settings.current().discounted(current["price"]) != current["price"]:
            del changes["price"]
        car = cars_repo.update_car(conn, car_id, changes)
    return jsonify(CarSchema().dump(car))


@bp.delete("/<id:car_id>")
@roles_required("seller", "admin")
def delete_car(car_id: int):
    with db.transaction() as conn:
        # The lock also keeps new orders (their foreign key check) out until we are done.
        ensure_can_manage(cars_repo.lock_car(conn, car_id))
        orders = cars_repo.order_count(conn, car_id)
        if orders:
            raise Conflict(
                f"This listing has {orders} order{'s' if orders != 1 else ''} and cannot be removed; "
                "mark it sold or reserved instead"
            )
        cars_repo.delete_car(conn, car_id)
    return jsonify({"message": "Car listing removed"})
