"""Reading a request: JSON bodies and query strings through a schema, ids in the URL."""

from __future__ import annotations

from flask import current_app, request
from marshmallow import Schema
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from cms.errors import Invalid, TooLarge
from cms.schemas.fields import parse_id

# The largest legitimate JSON body is a profile with an inline avatar (a data: URL of at most
# 2,000,000 characters); the request limit (MAX_REQUEST_BYTES) is sized for image uploads.
JSON_MAX_BYTES = 4 * 1024 * 1024


def load_json(schema: Schema, *, partial: bool | None = None) -> dict:
    """Validate the request's JSON object body with the schema; 400 on anything else.

    JSON bodies are capped at JSON_MAX_BYTES (413): only image uploads need the larger
    request limit. Nesting deeper than Python's recursion limit is a 400, not a crash.
    """
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    limit = min(JSON_MAX_BYTES, app_limit) if app_limit else JSON_MAX_BYTES
    request.max_content_length = limit
    too_large = TooLarge(f"Request body too large (limit {limit} bytes)")
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if request.content_length is None and len(raw) >= limit:  # a chunked body, cut at the limit
        raise too_large
    try:
        data = request.get_json(force=True, silent=True)  # parses the cached bytes
    except RecursionError:
        raise Invalid("The JSON body is nested too deeply") from None
    if data is None:
        if raw.strip():
            raise Invalid("Malformed JSON body")
        data = {}
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object")
    return schema.load(data, partial=partial)


def load_query(schema: Schema) -> dict:
    """Validate the query string with the schema."""
    return schema.load(request.args.to_dict())


class InvalidPathId(BadRequest):
    cms_message = "Invalid id in the URL: it must be a positive whole number"


class IdConverter(BaseConverter):
    """`<id:car_id>` in a route: any segment; a non-numeric one is a 400, not a 404."""

    regex = r"[^/]+"
    part_isolating = True  # werkzeug guesses False from the "/" in the regex; then "/cars/5/" would 404

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise InvalidPathId()
        return number

    def to_url(self, value) -> str:
        return str(value)
