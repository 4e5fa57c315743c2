"""GET /api/cars/:id for anonymous callers, answered beneath Flask (the hottest read of the service).

The route itself (cms/api/cars.py, get_car) stays the one that says what the answer is; this lane
sends the same answer for the common case without Flask's per-request machinery (request and
application contexts, URL matching, hooks, signals, a Response object), which cost more than the
query and the JSON together (bench/README.md, "Where a request's time goes"). It calls the same
service and the same writer, and its headers come from the functions Flask's path calls: the
route's validator (cms.api.revalidation: ETag, Cache-Control, 304 on If-None-Match), the body's
(envelope.compressed_json) and every answer's (envelope.outgoing_headers: security headers,
request id, the kept CORS answer); the same request-log line.

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
from werkzeug.http import parse_etags
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_host

from cms.api.context import settings_cache_of
from cms.api.envelope import HANDED_ON_ERROR, compressed_json, finish_request, outgoing_headers, request_id_for
from cms.api.responses import indented
from cms.api.revalidation import validator_headers
from cms.raw_request import check_request_size
from cms.schemas.cars import car_detail_json
from cms.schemas.fields import parse_id
from cms.services import cars as cars_service
from cms.services import revalidation as revalidation_service

ROUTE = "/api/cars/<id:car_id>"  # the rule of cms/api/cars.py's get_car, as Flask's path labels it
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
                    answer = self._answer(environ, car_id)
                except Exception as error:  # noqa: BLE001 - Flask's error handlers answer it (once)
                    environ[HANDED_ON_ERROR] = error
                    answer = None
                if answer is not None:
                    return self._send(environ, start_response, *answer, started)
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict, car_id: int) -> tuple[str, bytes | None] | None:
        """The validator and the detail's JSON (None: 304, If-None-Match holds the validator), or
        None when Flask must answer."""
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
            held = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))  # the validator before the data:
            tag = revalidation_service.validator(conn, runtime=runtime, base_url=base_url, fresh=bool(held))
            if held.contains_weak(tag):
                return tag, None
            car = cars_service.get_car(conn, car_id, runtime=runtime, base_url=base_url)
        finally:
            pool.putconn(conn)
        return tag, f"{car_detail_json(car)}\n".encode()

    def _send(self, environ: dict, start_response, tag: str, body: bytes | None, started: float):
        """The route's answer: its own headers (cms.api.revalidation), the body's, and what every
        answer carries (envelope.outgoing_headers)."""
        request_id = request_id_for(environ)
        if body is None:
            status, headers, body = 304, [], b""
        else:
            body, encoding = compressed_json(body, environ.get("HTTP_ACCEPT_ENCODING"))
            status = 200
            headers = [("Content-Type", "application/json"), *encoding, ("Content-Length", str(len(body)))]
        headers += validator_headers(tag)
        headers += outgoing_headers(self.app, environ, request_id)
        start_response("200 OK" if status == 200 else "304 NOT MODIFIED", headers)
        finish_request(environ, ROUTE, status, started, request_id, None)
        return [body]
