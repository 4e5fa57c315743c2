"""CMS car marketplace service: the application factory."""

from __future__ import annotations

import gzip
import logging
import re
import time
import uuid

from flask import Flask, g, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from cms import auth, db
from cms.api import errors
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

    app = Flask(__name__)
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

    CORS(
        app,
        origins=list(settings.cors_origins),
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["X-Total-Count", "X-Total-Count-Capped", "X-Request-Id", "Link"],
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        max_age=600,
    )

    db.init_app(app, pool or db.open_pool(settings), db.open_replicas(settings))
    auth.init_app(app)
    errors.register_error_handlers(app)
    worker = outbox.start_worker_thread(settings)
    if worker is not None:
        app.extensions["cms.outbox_worker"] = worker
    _register_request_log(app)
    _register_security_headers(app)
    _register_compression(app)
    _register_blueprints(app)
    return app


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


def _register_request_log(app: Flask) -> None:
    @app.before_request
    def start_timer():
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        check_request_size(request.environ)  # 414/431 as JSON, whatever the HTTP server accepted

    @app.after_request
    def log_request(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        user = getattr(g, "_login_user", None)
        log.info(
            "request method=%s path=%s status=%s duration_ms=%.1f request_id=%s user_id=%s",
            request.method, request.path, response.status_code, duration_ms,
            g.get("request_id", ""), getattr(user, "id", None) or "-",
        )
        return response


# Answers that carry a token or personal data: no browser or proxy cache may keep a copy.
NO_STORE_ENDPOINTS = frozenset({"auth.login", "auth.register", "users.get_profile", "users.update_profile"})


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        # Without it, a browser may sniff a JSON body holding user text as HTML and run it.
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.endpoint in NO_STORE_ENDPOINTS:
            response.headers["Cache-Control"] = "no-store"
        return response


# JSON bodies from this size on are gzip-compressed for clients that accept it. Level 1 (nginx's
# default gzip_comp_level): the full car list (5.5 MB at 10,000 cars) becomes ~1 MB in ~20 ms;
# level 6 would save another 0.3 MB for 2.5 times the CPU.
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 1


def _register_compression(app: Flask) -> None:
    @app.after_request
    def gzip_json(response):
        if (response.mimetype != "application/json" or response.direct_passthrough or response.is_streamed
                or "Content-Encoding" in response.headers):
            return response
        body = response.get_data()
        if len(body) < GZIP_MIN_BYTES:
            return response
        response.vary.add("Accept-Encoding")
        if request.accept_encodings["gzip"] > 0:
            response.set_data(gzip.compress(body, GZIP_LEVEL, mtime=0))
            response.headers["Content-Encoding"] = "gzip"
        return response
