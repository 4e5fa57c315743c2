"""The envelope of every request: a request id, the size checks, and on the way out the security
headers, gzip for large JSON bodies, the request-log line and the request metrics (cms.create_app
registers it; the car detail lane, cms/api/car_detail_lane.py, sends the same).

The log line and the metrics time the answer to its last byte: under the ASGI front (cms/asgi.py)
they are written when the front has sent it (a streamed whole list, an answer that waited for the
pool: the time from the request's arrival), elsewhere (Flask's test client) when Flask is done."""

from __future__ import annotations

import gzip
import logging
import re
import time
from functools import partial
from secrets import token_hex

from flask import Flask, g, request
from werkzeug.http import parse_accept_header

from cms import logging_setup
from cms.metrics import metrics
from cms.raw_request import RECEIVED_AT, WHEN_SENT, check_request_size

log = logging.getLogger("cms.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# WSGI middleware that fails while answering a request itself (the car detail lane) hands the
# request on with the exception here: Flask raises it before any view, so its error handlers
# answer it, in the one place that turns exceptions into JSON.
HANDED_ON_ERROR = "cms.handed_on_error"


def request_id_for(environ: dict) -> str:
    """The client's (or load balancer's) X-Request-Id when it is a plain token, else a new one."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    return incoming if incoming and _REQUEST_ID.fullmatch(incoming) else token_hex(16)


def finish_request(environ: dict, route: str, status: int, started: float | None, request_id: str,
                   user_id: int | None) -> None:
    """The request-log line and the request metrics of an answer, once its last byte is sent: left
    for the ASGI front to call when it serves the app, written now otherwise. `route` is the URL
    rule (`unmatched` for none), `started` the time Flask took the request (used without the front)."""
    received = environ.get(RECEIVED_AT)
    if received is not None:
        environ[WHEN_SENT] = partial(_record, environ, route, status, received, request_id, user_id)
    else:
        _record(environ, route, status, started or time.perf_counter(), request_id, user_id, time.perf_counter())


def _record(environ: dict, route: str, status: int, started: float, request_id: str, user_id: int | None,
            sent: float, whole: bool = True) -> None:
    seconds = sent - started
    method = environ.get("REQUEST_METHOD", "")
    metrics().observe_request(method, route, status, seconds)
    if not log.isEnabledFor(logging.INFO):
        return
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")  # PEP 3333's str
    fields = None
    if logging_setup.is_json():
        fields = {"method": method, "path": path, "query": environ.get("QUERY_STRING", ""), "route": route,
                  "status": status, "duration_ms": round(seconds * 1000, 1), "request_id": request_id,
                  "user_id": user_id, "client": environ.get("REMOTE_ADDR", "")}
        if not whole:
            fields["complete"] = False
    log.info("request method=%s path=%s status=%s duration_ms=%.1f request_id=%s user_id=%s%s",
             method, path, status, seconds * 1000, request_id, user_id or "-", "" if whole else " complete=false",
             extra={logging_setup.REQUEST_FIELDS: fields})


def register_envelope(app: Flask) -> None:
    """What every request gets around its handler: a request id, the size checks, and on the way
    out the security headers, gzip for large JSON bodies and the request-log line.

    One hook on each side, each reading the request context once: these run on every request,
    and each hook and each `g`/`request` lookup costs (bench/README.md, "Where a request's time goes").
    """

    @app.before_request
    def start_request():
        state = g._get_current_object()
        environ = request.environ
        state.request_id = request_id_for(environ)
        state.started = time.perf_counter()
        check_request_size(environ)  # 414/431 as JSON, whatever the HTTP server accepted
        error = environ.pop(HANDED_ON_ERROR, None)
        if error is not None:
            raise error

    @app.after_request  # registered after flask-cors' hook, so it runs before it (cms.create_app)
    def finish_response(response):
        state = g._get_current_object()
        req = request._get_current_object()
        headers = response.headers
        if req.endpoint in NO_STORE_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
        _compress(response, req)
        request_id = state.get("request_id", "")
        # flask-cors answered an error itself (its exception handlers): its CORS headers stay.
        cors_done = "Access-Control-Allow-Origin" in headers
        for name, value in outgoing_headers(app, req.environ, request_id):
            if not name.startswith("Access-Control-") and not (name == "Vary" and value == "Origin"):
                headers[name] = value
            elif not cors_done:
                headers.add(name, value)
        rule = req.url_rule
        finish_request(req.environ, rule.rule if rule is not None else UNMATCHED, response.status_code,
                       state.get("started"), request_id, getattr(state.get("_login_user"), "id", None))
        return response


def outgoing_headers(app: Flask, environ: dict, request_id: str) -> list[tuple[str, str]]:
    """What every answer carries on its way out, whichever path answered it (Flask's hook above,
    the car detail lane): the security headers, X-Request-Id, and the CORS answer to a simple
    request (cms/api/cors.py; a preflight is flask-cors' own). A header every answer needs goes
    here, so both paths send it (tests/test_car_detail_lane.py compares every header)."""
    headers = [*SECURITY_HEADERS, ("X-Request-Id", request_id)]
    if environ.get("REQUEST_METHOD") != "OPTIONS":
        headers += app.extensions["cms.cors_headers"](environ)
    return headers


# The route label of a request no route matched (any path: raw paths would be a series each).
UNMATCHED = "unmatched"

# On every answer. Without it, a browser may sniff a JSON body holding user text as HTML and run it.
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"),)

# Answers that carry a token or personal data: no browser or proxy cache may keep a copy.
NO_STORE_ENDPOINTS = frozenset({"auth.login", "auth.register", "users.get_profile", "users.update_profile"})

# JSON bodies from this size on are gzip-compressed for clients that accept it. Level 1 (nginx's
# default gzip_comp_level): the full car list (5.5 MB at 10,000 cars) becomes ~1 MB in ~20 ms;
# level 6 would save another 0.3 MB for 2.5 times the CPU.
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 1


def compressed_json(body: bytes, accept_encoding: str | None) -> tuple[bytes, list[tuple[str, str]]]:
    """A JSON body as it is sent, and the headers that say so: from GZIP_MIN_BYTES on, Vary:
    Accept-Encoding, and gzip-compressed (Content-Encoding: gzip) when the client accepts it."""
    if len(body) < GZIP_MIN_BYTES:
        return body, []
    if parse_accept_header(accept_encoding)["gzip"] <= 0:
        return body, [("Vary", "Accept-Encoding")]
    return gzip.compress(body, GZIP_LEVEL, mtime=0), [("Vary", "Accept-Encoding"), ("Content-Encoding", "gzip")]


def _compress(response, req) -> None:
    """compressed_json for a JSON response that is not streamed or encoded already."""
    if (response.mimetype != "application/json" or response.direct_passthrough or response.is_streamed
            or "Content-Encoding" in response.headers):
        return
    body = response.get_data()
    sent, headers = compressed_json(body, req.headers.get("Accept-Encoding"))
    for name, value in headers:
        if name == "Vary":
            response.vary.add(value)  # next to a Vary the view may have set
        else:
            response.headers[name] = value
    if sent is not body:
        response.set_data(sent)
