"""GET /api/inquiries (the caller's own) and POST /api/inquiries (a new one, seller notified)."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller
from cms.api.declare import SIGNED_IN, declare
from cms.schemas.inquiries import InquiryCreateSchema, InquirySchema
from cms.services import inquiries as inquiries_service

bp = Blueprint("inquiries", __name__, url_prefix="/api/inquiries")


@bp.get("")
@declare("The caller's inquiries", auth=SIGNED_IN, response=InquirySchema(many=True))
def list_my_inquiries():
    return inquiries_service.list_mine(db.connection(), caller())


@bp.post("")
@declare("Ask about a car or request a test drive", auth=SIGNED_IN, body=InquiryCreateSchema,
         response=InquirySchema, errors=(404,), idempotent=True)
def create_inquiry(body):
    return inquiries_service.create(db.connection(), caller(), **body)
