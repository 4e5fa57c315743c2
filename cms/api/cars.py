"""Cars — /api/cars: list (filters, search, sort, paging), detail, create, edit, delete."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user
from marshmallow import Schema

from cms import db
from cms.auth import roles_required
from cms.errors import Conflict, Forbidden, NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import images as images_repo
from cms.schemas.car_inputs import CarListQuerySchema, CarWriteSchema
from cms.schemas.cars import CarSchema
from cms.schemas.fields import load_json, load_query
from cms.schemas.images import CarDetailSchema, CarListItemSchema
from cms.services import images as images_service
from cms.services import settings as runtime_settings

bp = Blueprint("cars", __name__, url_prefix="/api/cars")

TOTAL_COUNT_HEADER = "X-Total-Count"


def car_list_response(schema: Schema):
    """The filtered, sorted page of cars with primaryImage, and X-Total-Count (shared with the admin list)."""
    filters = load_query(CarListQuerySchema())
    cars, total = cars_repo.list_cars(db.connection(), **filters)
    base_url = images_service.public_base_url()
    for car in cars:
        car["primary_image"] = images_service.with_public_url(car["primary_image"], base_url)
    response = jsonify(schema.dump(cars))
    response.headers[TOTAL_COUNT_HEADER] = str(total)
    return response


def ensure_can_manage(car: dict | None) -> dict:
    """404 for an unknown car; 403 unless the caller is an admin or the car's seller."""
    if car is None:
        raise NotFound()
    if current_user.role != "admin" and car["seller_id"] != current_user.id:
        raise Forbidden()
    return car


@bp.get("")
def list_cars():
    return car_list_response(CarListItemSchema(many=True))


@bp.get("/<id:car_id>")
def get_car(car_id: int):
    conn = db.connection()
    car = cars_repo.get_car_detail(conn, car_id)
    if car is None:
        raise NotFound()
    car["images"] = images_service.with_public_urls(images_repo.list_images(conn, car_id))
    return jsonify(CarDetailSchema().dump(car))


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
