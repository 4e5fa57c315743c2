"""Admin console, listings — /api/admin/cars: every car, and approval or rejection (audited)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from cms import db
from cms.api.cars import car_list_response
from cms.auth import roles_required
from cms.errors import Conflict, NotFound
from cms.repositories import cars as cars_repo
from cms.repositories.audit import record_admin_action
from cms.schemas.car_inputs import CarApprovalSchema
from cms.schemas.fields import load_json
from cms.schemas.images import AdminCarSchema

bp = Blueprint("admin_cars", __name__, url_prefix="/api/admin")

# "approved" is what the admin console sends; the cars table knows it as "available".
STORED_STATUS = {"approved": "available", "available": "available", "rejected": "rejected"}


@bp.get("/cars")
@roles_required("admin")
def list_cars():
    return car_list_response(admin=True)


@bp.patch("/cars/<id:car_id>/approval")
@roles_required("admin")
def set_approval(car_id: int):
    body = load_json(CarApprovalSchema())
    status = STORED_STATUS[body["status"]]
    reason = (body.get("rejection_reason") or None) if status == "rejected" else None
    with db.transaction() as conn:
        car = cars_repo.lock_car(conn, car_id)
        if car is None:
            raise NotFound()
        if car["status"] == "sold":
            raise Conflict("This car is sold: its listing can no longer be approved or rejected")
        updated = cars_repo.set_approval(conn, car_id, status=status, rejection_reason=reason)
        record_admin_action(
            conn, admin_id=current_user.id,
            action_type="approve_car" if status == "available" else "reject_car",
            target_id=car_id,
            details={
                "carTitle": car["title"], "previousStatus": car["status"], "status": status,
                "rejectionReason": reason,
            },
        )
    return jsonify(AdminCarSchema().dump(updated))
