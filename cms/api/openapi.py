"""GET /api/openapi.json: the OpenAPI 3 document of this API (built by cms.openapi)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from cms import openapi
from cms.api.declare import PUBLIC, declare

bp = Blueprint("openapi", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@declare("This OpenAPI document", auth=PUBLIC, response={"type": "object"})
def document():
    response = jsonify(openapi.document_for(current_app))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
