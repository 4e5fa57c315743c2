"""The seller workspace's inquiries: GET /api/seller/inquiries, PATCH /api/seller/inquiries/:id."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from cms import db
from cms.auth import roles_required
from cms.errors import Forbidden, NotFound
from cms.repositories import inquiries as inquiries_repo
from cms.schemas.fields import load_json
from cms.schemas.inquiries import InquirySchema, InquiryStatusSchema
from cms.services import audit

bp = Blueprint("seller_inquiries", __name__, url_prefix="/api/seller")


@bp.get("/inquiries")
@roles_required("seller", "admin")
def list_inquiries():
    seller_id = None if current_user.role == "admin" else current_user.id
    rows = inquiries_repo.list_for_seller(db.connection(), seller_id)
    return jsonify(InquirySchema(many=True).dump(rows))


@bp.patch("/inquiries/<id:inquiry_id>")
@roles_required("seller", "admin")
def update_inquiry(inquiry_id: int):
    body = load_json(InquiryStatusSchema())
    with db.transaction() as conn:
        # Lock, check ownership, then write: a refused request changes nothing.
        inquiry = inquiries_repo.lock_inquiry(conn, inquiry_id)
        if inquiry is None:
            raise NotFound("Inquiry not found")
        if current_user.role != "admin" and inquiry["seller_id"] != current_user.id:
            raise Forbidden()
        updated = inquiries_repo.update_status(
            conn, inquiry_id, body["status"],
            set_response="response" in body, response=body.get("response"),
        )
        audit.record_if_admin(conn, "update_inquiry", inquiry_id, {"status": body["status"]})
    return jsonify(InquirySchema().dump(updated))
