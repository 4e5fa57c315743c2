"""CMS car marketplace service: the application factory."""

from __future__ import annotations

import weakref
from functools import partial

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cms import db, metrics
from cms.api import errors, login
from cms.api.blueprints import register_blueprints
from cms.api.car_detail_lane import CarDetailLane
from cms.api.cors import init_cors
from cms.api.envelope import register_envelope
from cms.api.http import IdConverter
from cms.api.metrics import pool_figures
from cms.config import Settings, load_settings, validate, validate_for_serving
from cms.hosts import LowerCaseHost, trusted_hosts
from cms.logging_setup import configure_logging
from cms.raw_request import GuardedInputMiddleware
from cms.services import outbox


def create_app(test_config: dict | None = None, *, pool=None) -> Flask:
    """Build the app: settings, logging, pool (checked), auth, errors, blueprints.

    `test_config` overrides settings by field name (see cms.config.Settings).
    Raises cms.db.StartupError when the database is unreachable or not migrated
    and cms.config.ConfigError on invalid settings.
    """
    settings: Settings = load_settings()
    if test_config:
        settings = settings.with_overrides(**test_config)
    configure_logging(settings.log_level, settings.log_format)
    settings = validate(settings)
    validate_for_serving(settings)

    app = _App(__name__)
    app.config.update(
        CMS_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    if settings.allowed_hosts:
        # Any other Host header is a 400 before routing (werkzeug's trusted hosts; cms/hosts.py).
        app.config["TRUSTED_HOSTS"] = trusted_hosts(settings.allowed_hosts)
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    app.url_map.converters["id"] = IdConverter
    app.wsgi_app = GuardedInputMiddleware(app.wsgi_app)
    if settings.car_detail_lane:
        app.wsgi_app = CarDetailLane(app.wsgi_app, app)  # inside ProxyFix: it sees the client's host and scheme
    app.wsgi_app = LowerCaseHost(app.wsgi_app)  # before either reads the Host
    if settings.trusted_proxies:
        # Behind N proxies (load balancer, nginx), take the client's address from the
        # X-Forwarded-* headers they add; otherwise those headers are the client's to forge.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    init_cors(app, settings.cors_origins)

    db.init_app(app, pool or db.open_pool(settings), db.open_replicas(settings))
    sampler = metrics.start_pool_sampler(partial(pool_figures, app.extensions["cms.pool"]))
    if sampler is not None:
        app.extensions["cms.pool_sampler"] = sampler
    login.init_app(app)
    errors.register_error_handlers(app)
    worker = outbox.start_worker_thread(settings)
    if worker is not None:
        app.extensions["cms.outbox_worker"] = worker
    register_envelope(app)
    register_blueprints(app)
    return app


class _App(Flask):
    """Flask, remembering which hooks and views are plain functions. Flask asks on every request,
    for every hook and the view (inspect.iscoroutinefunction, ~12 µs a request here); the answer
    for a function never changes. Weakly held: a function made per request is not kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plain_functions: weakref.WeakSet = weakref.WeakSet()

    def ensure_sync(self, func):
        if func in self._plain_functions:
            return func
        runnable = super().ensure_sync(func)
        if runnable is func:
            try:
                self._plain_functions.add(func)
            except TypeError:  # not weakly referenceable: asked again next time
                pass
        return runnable
