"""GET /api/favorites and POST /api/favorites/toggle."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from cms import db
from cms.errors import Conflict, NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import favorites as favorites_repo
from cms.schemas.favorites import FavoriteToggleResultSchema, FavoriteToggleSchema
from cms.schemas.fields import load_json

bp = Blueprint("favorites", __name__, url_prefix="/api/favorites")


@bp.get("")
@login_required
def list_favorites():
    return jsonify(favorites_repo.list_car_ids(db.connection(), current_user.id))


@bp.post("/toggle")
@login_required
def toggle_favorite():
    body = load_json(FavoriteToggleSchema())
    try:
        with db.transaction() as conn:
            if not cars_repo.car_exists(conn, body["car_id"]):
                raise NotFound("Car not found")
            status = favorites_repo.toggle(conn, current_user.id, body["car_id"])
            favorites = favorites_repo.list_car_ids(conn, current_user.id)
    except favorites_repo.ToggleContention:
        raise Conflict("This favorite is being changed by another request; please try again") from None
    return jsonify(FavoriteToggleResultSchema().dump({"status": status, "favorites": favorites}))
