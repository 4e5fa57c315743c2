"""GET /api/reviews/car/:carId (public) and POST /api/reviews.

One review per user and car: a second POST by the same user for the same car
replaces the rating, comment and name of the first (same id and createdAt) and
answers 200 with it, rather than a 409 the legacy frontend would show as an error.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from cms import db
from cms.errors import NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import reviews as reviews_repo
from cms.schemas.fields import load_json
from cms.schemas.reviews import ReviewCreateSchema, ReviewSchema
from cms.services import listing_rules

bp = Blueprint("reviews", __name__, url_prefix="/api/reviews")


@bp.get("/car/<id:car_id>")
@db.replica_reads
def list_car_reviews(car_id: int):
    conn = db.connection()
    if not cars_repo.car_exists(conn, car_id):
        raise NotFound("Car not found")
    return jsonify(ReviewSchema(many=True).dump(reviews_repo.list_for_car(conn, car_id)))


@bp.post("")
@login_required
def create_review():
    """Write the caller's review of a car; a second one updates the first (see the module docstring)."""
    body = load_json(ReviewCreateSchema())
    with db.transaction() as conn:
        listing_rules.ensure_reviewable(cars_repo.get_car(conn, body["car_id"]), current_user.id)
        review = reviews_repo.upsert_review(
            conn,
            car_id=body["car_id"],
            user_id=current_user.id,
            user_name=current_user.name,
            rating=body["rating"],
            comment=body["comment"],
        )
    return jsonify(ReviewSchema().dump(review))
