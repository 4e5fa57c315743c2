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
import hashlib
import json
from collections.abc import Callable

import psycopg
from flask import current_app, make_response, request
from werkzeug.wrappers import Response

from cms import db
from cms.api.context import caller
from cms.errors import AppError
from cms.services import idempotency as idempotency_service

HEADER = "Idempotency-Key"
# The start of PostgreSQL's warning when a commit stops waiting for the synchronous standby
# (statement_timeout, a cancel): the commit is local only (lc_messages must be English).
SYNC_REPLICATION_CANCELLED = "canceling wait for synchronous replication"
REPLAYED_HEADER = "Idempotent-Replayed"
DOCUMENTED_HEADER = {
    "in": "header", "name": HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "A unique value per intended write (e.g. a UUID); a retry with the same key and request "
                   "gets the first answer instead of writing again (keys expire after IDEMPOTENCY_KEY_TTL_HOURS).",
}


def _scope() -> str:
    user = caller()
    return f"user:{user.id}" if user is not None else "anonymous"


def _request_content() -> bytes:
    """What a retry must repeat: the body, byte for byte; for a form upload, its fields and files
    (names, file names, types, contents), since a client draws a new multipart boundary per attempt."""
    if request.mimetype != "multipart/form-data":
        return request.get_data(cache=True)
    files = []
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        content = upload.stream.read()
        upload.stream.seek(0)
        files.append([name, upload.filename, upload.mimetype, hashlib.sha256(content).hexdigest()])
    return json.dumps([sorted(request.form.items(multi=True)), files]).encode()


def _replay(stored: idempotency_service.StoredAnswer) -> Response:
    response = Response(stored.body, status=stored.status, content_type=stored.content_type)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _confirm_replicated(notices: list[str]) -> None:
    """Raise (a 503) when the commit's wait for the synchronous standby was cut short.

    PostgreSQL then reports the commit as done with only a warning, although the standby may not
    have it: after a failover to that standby the write would be gone while its answer was given.
    The retry of the same key finds out which: the stored answer if the write survived, else a new run.
    """
    for notice in notices:
        if notice.startswith(SYNC_REPLICATION_CANCELLED):
            raise psycopg.OperationalError(f"the commit was not confirmed by the synchronous standby: {notice}")


def idempotent(view: Callable) -> Callable:
    """Run `view` under the request's Idempotency-Key, when it has one (see the module docstring)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        key = idempotency_service.check_key(key)
        scope = _scope()
        fingerprint = idempotency_service.request_hash(request.method, request.path, _request_content())
        ttl_hours = current_app.config["CMS_SETTINGS"].idempotency_key_ttl_hours
        conn = db.primary_connection()
        refused = stored = None
        notices: list[str] = []

        def keep_notice(diagnostic: psycopg.errors.Diagnostic) -> None:
            notices.append(diagnostic.message_primary or "")  # readable only during the call

        conn.add_notice_handler(keep_notice)
        try:
            with conn.transaction():
                stored = idempotency_service.begin(conn, scope, key, fingerprint, ttl_hours)
                if stored is None:
                    try:
                        response = make_response(view(*args, **kwargs))
                    except AppError as error:  # its writes were undone by its own transaction; commit the rest
                        refused = error
                    else:
                        if 200 <= response.status_code < 300 and not response.is_streamed:
                            answer = idempotency_service.StoredAnswer(
                                response.status_code, response.content_type or "", response.get_data())
                            idempotency_service.record(conn, scope, key, fingerprint, answer, ttl_hours)
        finally:
            conn.remove_notice_handler(keep_notice)
        _confirm_replicated(notices)
        if refused is not None:
            raise refused
        return _replay(stored) if stored is not None else response

    return wrapper
