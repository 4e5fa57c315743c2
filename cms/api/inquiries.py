"""GET /api/inquiries (the caller's own) and POST /api/inquiries (a new one, seller notified)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from cms import db
from cms.errors import NotFound
from cms.repositories import inquiries as inquiries_repo
from cms.schemas.fields import load_json
from cms.schemas.inquiries import InquiryCreateSchema, InquirySchema
from cms.services import notifications

bp = Blueprint("inquiries", __name__, url_prefix="/api/inquiries")


@bp.get("")
@login_required
def list_my_inquiries():
    rows = inquiries_repo.list_for_user(db.connection(), current_user.id)
    return jsonify(InquirySchema(many=True).dump(rows))


@bp.post("")
@login_required
def create_inquiry():
    body = load_json(InquiryCreateSchema())
    with db.transaction() as conn:
        car = inquiries_repo.find_car(conn, body["car_id"])
        if car is None:
            raise NotFound("Car not found")
        inquiry = inquiries_repo.insert_inquiry(
            conn,
            car_id=car["id"],
            user_id=current_user.id,
            seller_id=car["seller_id"],
            message=body["message"],
            type=body["type"],
            requested_date=body["requested_date"],
        )
        # Same transaction: the announcement exists exactly when the inquiry does.
        notifications.queue_inquiry_created(conn, inquiry, car, current_user.row)
    return jsonify(InquirySchema().dump(inquiry))
