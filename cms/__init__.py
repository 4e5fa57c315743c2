"""CMS car marketplace service: the application factory."""

from __future__ import annotations

import gzip
import logging
import re
import time
from secrets import token_hex

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from cms import auth, db
from cms.api import errors
from cms.api.cors import init_cors
from cms.api.http import IdConverter
from cms.config import Settings, load_settings, validate, validate_for_serving
from cms.logging_setup import configure_logging
from cms.raw_request import GuardedInputMiddleware, check_request_size
from cms.services import outbox

log = logging.getLogger("cms.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def create_app(test_config: dict | None = None, *, pool=None) -> Flask:
    """Build the app: settings, logging, pool (checked), auth, errors, blueprints.

    `test_config` overrides settings by field name (see cms.config.Settings).
    Raises cms.db.StartupError when the database is unreachable or not migrated
    and cms.config.ConfigError on invalid settings.
    """
    settings: Settings = load_settings()
    if test_config:
        settings = settings.with_overrides(**test_config)
    configure_logging(settings.log_level)
    settings = validate(settings)
    validate_for_serving(settings)

    app = _App(__name__)
    app.config.update(
        CMS_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    if settings.allowed_hosts:
        # Any other Host header is a 400 before routing (werkzeug's trusted hosts; "*.example.com" works).
        app.config["TRUSTED_HOSTS"] = list(settings.allowed_hosts)
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    app.url_map.converters["id"] = IdConverter
    app.wsgi_app = GuardedInputMiddleware(app.wsgi_app)
    if settings.trusted_proxies:
        # Behind N proxies (load balancer, nginx), take the client's address from the
        # X-Forwarded-* headers they add; otherwise those headers are the client's to forge.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    init_cors(app, settings.cors_origins)

    db.init_app(app, pool or db.open_pool(settings), db.open_replicas(settings))
    auth.init_app(app)
    errors.register_error_handlers(app)
    worker = outbox.start_worker_thread(settings)
    if worker is not None:
        app.extensions["cms.outbox_worker"] = worker
    _register_envelope(app)
    _register_blueprints(app)
    return app


class _App(Flask):
    """Flask, remembering which hooks and views are plain functions. Flask asks on every request,
    for every hook and the view (inspect.iscoroutinefunction, ~12 µs a request here); the answer
    for a function never changes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._runnable: dict = {}

    def ensure_sync(self, func):
        runnable = self._runnable.get(func)
        if runnable is None:
            runnable = self._runnable[func] = super().ensure_sync(func)
        return runnable


def _register_blueprints(app: Flask) -> None:
    from cms.api import (
        admin,
        admin_cars,
        admin_ops,
        cars,
        favorites,
        health,
        images,
        inquiries,
        openapi,
        payments,
        reviews,
        seller,
        seller_inquiries,
        users,
    )
    from cms.api import auth as auth_api

    for module in (health, admin_ops, auth_api, users, cars, images, favorites, inquiries, reviews,
                   seller, seller_inquiries, admin, admin_cars, payments, openapi):
        app.register_blueprint(module.bp)


def _register_envelope(app: Flask) -> None:
    """What every request gets around its handler: a request id, the size checks, and on the way
    out the security headers, gzip for large JSON bodies and the request-log line.

    One hook on each side, each reading the request context once: these run on every request,
    and each hook and each `g`/`request` lookup costs (bench/README.md, "Where a request's time goes").
    """

    @app.before_request
    def start_request():
        state = g._get_current_object()
        environ = request.environ
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        state.request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else token_hex(16)
        state.started = time.perf_counter()
        check_request_size(environ)  # 414/431 as JSON, whatever the HTTP server accepted

    @app.after_request
    def finish_response(response):
        state = g._get_current_object()
        req = request._get_current_object()
        headers = response.headers
        # Without it, a browser may sniff a JSON body holding user text as HTML and run it.
        headers["X-Content-Type-Options"] = "nosniff"
        if req.endpoint in NO_STORE_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
        _compress(response, req)
        request_id = state.get("request_id", "")
        headers["X-Request-Id"] = request_id
        if log.isEnabledFor(logging.INFO):
            duration_ms = (time.perf_counter() - state.get("started", time.perf_counter())) * 1000
            user = state.get("_login_user")
            log.info(
                "request method=%s path=%s status=%s duration_ms=%.1f request_id=%s user_id=%s",
                req.method, req.path, response.status_code, duration_ms, request_id,
                getattr(user, "id", None) or "-",
            )
        return response


# Answers that carry a token or personal data: no browser or proxy cache may keep a copy.
NO_STORE_ENDPOINTS = frozenset({"auth.login", "auth.register", "users.get_profile", "users.update_profile"})

# JSON bodies from this size on are gzip-compressed for clients that accept it. Level 1 (nginx's
# default gzip_comp_level): the full car list (5.5 MB at 10,000 cars) becomes ~1 MB in ~20 ms;
# level 6 would save another 0.3 MB for 2.5 times the CPU.
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 1


def _compress(response, req) -> None:
    """gzip a JSON body of GZIP_MIN_BYTES or more when the client accepts it (Vary either way)."""
    if (response.mimetype != "application/json" or response.direct_passthrough or response.is_streamed
            or "Content-Encoding" in response.headers):
        return
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return
    response.vary.add("Accept-Encoding")
    if req.accept_encodings["gzip"] > 0:
        response.set_data(gzip.compress(body, GZIP_LEVEL, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
