"""GET /api/openapi.json: the OpenAPI 3 document of this API (built by cms.api.openapi_document),
and GET /api/docs: Swagger UI over it (flask-swagger-ui's blueprint, whose package ships the
Swagger UI files: nothing is loaded from another site)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from cms.api import openapi_document as openapi
from cms.api.declare import PUBLIC, declare

bp = Blueprint("openapi", __name__, url_prefix="/api")
DOCS_PATH = "/api/docs"
# The page and its files (swagger-ui-bundle.js, swagger-ui.css, …) under /api/docs/; an HTML page
# and static files, not operations of the API: the OpenAPI document leaves them out.
docs_bp = get_swaggerui_blueprint(DOCS_PATH, "/api/openapi.json", config={"app_name": openapi.TITLE},
                                  blueprint_name=openapi.DOCS_BLUEPRINT)


@bp.get("/openapi.json")
@declare("This OpenAPI document", auth=PUBLIC, response={"type": "object"})
def document():
    response = jsonify(openapi.document_for(current_app))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
