"""Admin console, listings — /api/admin/cars: every car, and approval or rejection (audited)."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller, runtime_settings
from cms.api.declare import ADMIN, declare
from cms.api.responses import TOTAL_COUNT_HEADERS, car_list_response
from cms.schemas.car_inputs import CarApprovalSchema, CarListQuerySchema
from cms.schemas.cars import AdminCarListItemSchema, AdminCarSchema
from cms.services import admin as admin_service

bp = Blueprint("admin_cars", __name__, url_prefix="/api/admin")


@bp.get("/cars")
@declare("Every car with primaryImage and rejectionReason", auth=ADMIN, query=CarListQuerySchema,
         response=AdminCarListItemSchema(many=True), headers=TOTAL_COUNT_HEADERS)
def list_cars(query):
    return car_list_response(query, admin=True)


@bp.patch("/cars/<id:car_id>/approval")
@declare("Approve or reject a listing", auth=ADMIN, body=CarApprovalSchema, response=AdminCarSchema, errors=(409,))
def set_approval(car_id: int, body):
    return admin_service.set_approval(db.connection(), caller(), car_id, status=body["status"],
                                      rejection_reason=body.get("rejection_reason"), runtime=runtime_settings())
