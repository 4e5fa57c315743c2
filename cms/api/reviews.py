"""GET /api/reviews/car/:carId (public) and POST /api/reviews (one review per user and car)."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller
from cms.api.declare import PUBLIC, SIGNED_IN, declare
from cms.schemas.reviews import ReviewCreateSchema, ReviewSchema
from cms.services import reviews as reviews_service

bp = Blueprint("reviews", __name__, url_prefix="/api/reviews")


@bp.get("/car/<id:car_id>")
@declare("A car's reviews", auth=PUBLIC, response=ReviewSchema(many=True), replica_reads=True, revalidate=True)
def list_car_reviews(car_id: int):
    return reviews_service.list_for_car(db.connection(), car_id)


@bp.post("")
@declare("Review a car (a second review replaces the first)", auth=SIGNED_IN, body=ReviewCreateSchema,
         response=ReviewSchema, errors=(404,), idempotent=True)
def create_review(body):
    return reviews_service.write(db.connection(), caller(), **body)
