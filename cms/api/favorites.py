"""GET /api/favorites and POST /api/favorites/toggle."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller
from cms.api.declare import SIGNED_IN, declare
from cms.schemas.favorites import CAR_IDS, FavoriteToggleResultSchema, FavoriteToggleSchema
from cms.services import favorites as favorites_service

bp = Blueprint("favorites", __name__, url_prefix="/api/favorites")


@bp.get("")
@declare("The caller's favorite car ids", auth=SIGNED_IN, response=CAR_IDS)
def list_favorites():
    return favorites_service.car_ids(db.connection(), caller())


@bp.post("/toggle")
@declare("Add or remove a favorite", auth=SIGNED_IN, body=FavoriteToggleSchema, response=FavoriteToggleResultSchema,
         errors=(404, 409), idempotent=True)
def toggle_favorite(body):
    return favorites_service.toggle(db.connection(), caller(), body["car_id"])
