"""GET /api/cars/:id for anonymous callers, answered beneath Flask (issue 14: the hottest read).

The route itself (cms/api/cars.py, get_car) stays the one that says what the answer is; this lane
sends the same answer for the common case without Flask's per-request machinery (request and
application contexts, URL matching, hooks, signals, a Response object), which cost more than the
query and the JSON together (bench/README.md, "Where a request's time goes"). It calls the same
service and the same writer, and sends the envelope's headers (cms/api/envelope.py), the kept CORS
answer (cms/api/cors.py) and the same request-log line.

Anything else is Flask's, which answers it as before: another method or path, a caller with an
Authorization header (maintenance exemption, read-your-writes, their id in the log), read
replicas configured (Flask routes the read), maintenance mode, a request that fails a size or
host check, debug mode (indented JSON). A failure met while answering (an unknown car, the pool
or the database failing) is handed to Flask with the request (envelope.HANDED_ON_ERROR) and
answered by its error handlers, once: the query is not run again.
tests/test_car_detail_lane.py holds the lane's answers to Flask's.
"""

from __future__ import annotations

import re
import time

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_host

from cms.api.context import settings_cache_of
from cms.api.envelope import HANDED_ON_ERROR, SECURITY_HEADERS, compressed_json, log_request, request_id_for
from cms.api.responses import indented
from cms.raw_request import check_request_size
from cms.schemas.cars import car_detail_json
from cms.schemas.fields import parse_id
from cms.services import cars as cars_service

DETAIL_PATH = re.compile(r"/api/cars/([0-9]+)/?")  # <id:car_id> with ASCII digits, strict_slashes off


class CarDetailLane:
    """WSGI middleware: answers anonymous GET /api/cars/<id> itself, hands everything else on."""

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("HTTP_AUTHORIZATION"):
            match = DETAIL_PATH.fullmatch(environ.get("PATH_INFO", ""))
            car_id = parse_id(match.group(1)) if match else None
            if car_id is not None:
                started = time.perf_counter()
                try:
                    body = self._body(environ, car_id)
                except Exception as error:  # noqa: BLE001 - Flask's error handlers answer it (once)
                    environ[HANDED_ON_ERROR] = error
                    body = None
                if body is not None:
                    return self._send(environ, start_response, body, started)
        return self.wsgi_app(environ, start_response)

    def _body(self, environ: dict, car_id: int) -> bytes | None:
        """The detail's JSON, or None when Flask must answer."""
        app = self.app
        if indented(app):
            return None
        trusted_hosts = app.config.get("TRUSTED_HOSTS")
        try:
            check_request_size(environ)
            if trusted_hosts:
                get_host(environ, trusted_hosts)
        except HTTPException:  # 414/431, or a Host not allowed (400): Flask's error handlers answer
            return None
        if "cms.replicas" in app.extensions:
            return None
        settings = app.config["CMS_SETTINGS"]
        base_url = settings.public_base_url or Request(environ).host_url.rstrip("/")
        pool = app.extensions["cms.pool"]
        conn = pool.getconn()
        try:
            runtime = settings_cache_of(app).get(conn)
            if runtime.maintenance_enabled:
                return None
            car = cars_service.get_car(conn, car_id, runtime=runtime, base_url=base_url)
        finally:
            pool.putconn(conn)
        return f"{car_detail_json(car)}\n".encode()

    def _send(self, environ: dict, start_response, body: bytes, started: float):
        request_id = request_id_for(environ)
        body, encoding = compressed_json(body, environ.get("HTTP_ACCEPT_ENCODING"))
        headers = [
            ("Content-Type", "application/json"),
            *SECURITY_HEADERS,
            *encoding,
            ("Content-Length", str(len(body))),
            ("X-Request-Id", request_id),
            *self.app.extensions["cms.cors_headers"](environ),
        ]
        start_response("200 OK", headers)
        log_request("GET", environ["PATH_INFO"], 200, started, request_id, None)
        return [body]
