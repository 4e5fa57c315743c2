"""The seller workspace's inquiries: GET /api/seller/inquiries, PATCH /api/seller/inquiries/:id."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller
from cms.api.declare import SELLER_OR_ADMIN, declare
from cms.schemas.inquiries import InquirySchema, InquiryStatusSchema
from cms.services import inquiries as inquiries_service

bp = Blueprint("seller_inquiries", __name__, url_prefix="/api/seller")


@bp.get("/inquiries")
@declare("Inquiries addressed to the caller (admin: all)", auth=SELLER_OR_ADMIN, response=InquirySchema(many=True))
def list_inquiries():
    return inquiries_service.list_for_seller(db.connection(), caller())


@bp.patch("/inquiries/<id:inquiry_id>")
@declare("Respond to or close an inquiry", auth=SELLER_OR_ADMIN, body=InquiryStatusSchema, response=InquirySchema)
def update_inquiry(inquiry_id: int, body):
    return inquiries_service.update_status(db.connection(), caller(), inquiry_id, body)
