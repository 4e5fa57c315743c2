"""Cars — /api/cars: list (filters, search, sort, paging), detail, create, edit, delete."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller, public_base_url, runtime_settings
from cms.api.declare import PUBLIC, SELLER_OR_ADMIN, declare
from cms.api.responses import TOTAL_COUNT_HEADERS, car_list_response, json_response
from cms.schemas.car_inputs import CarListQuerySchema, CarWriteSchema
from cms.schemas.cars import CarDetailSchema, CarListItemSchema, CarSchema, car_detail_json
from cms.schemas.common import MessageSchema
from cms.services import cars as cars_service

bp = Blueprint("cars", __name__, url_prefix="/api/cars")


@bp.get("")
@declare("Cars with primaryImage; optional filters, search, sort and paging", auth=PUBLIC,
         query=CarListQuerySchema, response=CarListItemSchema(many=True), headers=TOTAL_COUNT_HEADERS,
         replica_reads=True, revalidate=True)
def list_cars(query):
    return car_list_response(query)


@bp.get("/<id:car_id>")
@declare("A car with its images and rating", auth=PUBLIC, response=CarDetailSchema, replica_reads=True,
         revalidate=True)
def get_car(car_id: int):
    # The hottest read: written directly, byte for byte what CarDetailSchema's dump would send.
    car = cars_service.get_car(db.connection(), car_id, runtime=runtime_settings(), base_url=public_base_url())
    return json_response(f"{car_detail_json(car)}\n".encode())


@bp.post("")
@declare("List a car (status pending)", auth=SELLER_OR_ADMIN, body=CarWriteSchema, response=CarSchema, idempotent=True)
def create_car(body):
    return cars_service.create_car(db.connection(), caller(), body, runtime=runtime_settings())


@bp.put("/<id:car_id>")
@declare("Edit a car's editable fields", auth=SELLER_OR_ADMIN, body=CarWriteSchema(partial=True),
         response=CarSchema)
def update_car(car_id: int, body):
    return cars_service.update_car(db.connection(), caller(), car_id, body, runtime=runtime_settings())


@bp.delete("/<id:car_id>")
@declare("Remove a listing (409 when it has orders)", auth=SELLER_OR_ADMIN, response=MessageSchema, errors=(409,))
def delete_car(car_id: int):
    cars_service.delete_car(db.connection(), caller(), car_id)
    return {"message": "Car listing removed"}
