"""The Idempotency-Key header of creating POSTs (declare(..., idempotent=True)).

With the header, the route runs inside one transaction on the request's primary connection that
also checks and records the key (cms.services.idempotency); the services' own transactions become
savepoints within it. A retry with the same key and request gets the first answer byte for byte
(status, Content-Type, body; marked `Idempotent-Replayed: true`) and writes nothing; the same key
with another request is a 409. Only successful (2xx) answers are stored: a refusal (a domain
error) undid its own writes, so a retry runs again; what a service keeps whatever the answer (the
security log's counts) is committed as it would be without the key. Any other failure rolls the
whole transaction back, key included. Keys are per caller (`user:<id>`); anonymous keys share one
scope, where only the same request, byte for byte, is answered from the store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, make_response, request
from werkzeug.wrappers import Response

from cms import db
from cms.api.context import caller
from cms.errors import AppError
from cms.services import idempotency as idempotency_service

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DOCUMENTED_HEADER = {
    "in": "header", "name": HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "A unique value per intended write (e.g. a UUID); a retry with the same key and request "
                   "gets the first answer instead of writing again (keys expire after IDEMPOTENCY_KEY_TTL_HOURS).",
}


def _scope() -> str:
    user = caller()
    return f"user:{user.id}" if user is not None else "anonymous"


def _replay(stored: idempotency_service.StoredAnswer) -> Response:
    response = Response(stored.body, status=stored.status, content_type=stored.content_type)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: Callable) -> Callable:
    """Run `view` under the request's Idempotency-Key, when it has one (see the module docstring)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        key = idempotency_service.check_key(key)
        scope = _scope()
        fingerprint = idempotency_service.request_hash(request.method, request.path, request.get_data(cache=True))
        ttl_hours = current_app.config["CMS_SETTINGS"].idempotency_key_ttl_hours
        conn = db.primary_connection()
        refused = None
        with conn.transaction():
            stored = idempotency_service.begin(conn, scope, key, fingerprint, ttl_hours)
            if stored is not None:
                return _replay(stored)
            try:
                response = make_response(view(*args, **kwargs))
            except AppError as error:  # its writes were undone by its own transaction; commit the rest
                refused = error
            else:
                if 200 <= response.status_code < 300 and not response.is_streamed:
                    answer = idempotency_service.StoredAnswer(
                        response.status_code, response.content_type or "", response.get_data())
                    idempotency_service.record(conn, scope, key, fingerprint, answer, ttl_hours)
        if refused is not None:
            raise refused
        return response

    return wrapper
