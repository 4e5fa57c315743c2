"""GET /metrics: the service's Prometheus metrics (cms/metrics.py), for the addresses in
METRICS_ALLOW only (default: this machine). Anyone else gets the 404 of a path that does not
exist. The address is the TCP peer's, or with TRUSTED_PROXIES the client's that the proxies report:
a proxy on this machine whose peers are not counted as proxies would make every client local, so
such a proxy must not pass /metrics on (README, "Metrics")."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import psycopg
from flask import Blueprint, Response, current_app, request
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import NotFound

from cms import db, metrics
from cms.api.declare import PUBLIC, declare
from cms.services import outbox as outbox_service

bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def may_read_metrics(address: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether `address` is one of the METRICS_ALLOW addresses or inside one of its networks."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(allowed))


def pool_figures(pool) -> tuple[int, int, int]:
    """(open connections, lent ones, requests waiting) of a pool."""
    stats = pool.get_stats()
    size = stats.get("pool_size", 0)
    return size, size - stats.get("pool_available", 0), stats.get("requests_waiting", 0)


@bp.get("/metrics")
@declare("Prometheus metrics in the text format (from METRICS_ALLOW's addresses; others get 404)",
         auth=PUBLIC, response={"type": "string"}, response_content_type=CONTENT_TYPE, errors=(404,))
def metrics_text():
    if not may_read_metrics(request.remote_addr, current_app.config["CMS_SETTINGS"].metrics_allow):
        raise NotFound()
    current = metrics.metrics()
    current.set_pool(*pool_figures(db.get_pool()))  # this worker's, fresh; the others' are sampled
    families = []
    try:
        families.append(metrics.gauge("cms_outbox_backlog", "Notifications waiting to be sent",
                                      outbox_service.backlog(db.connection())))
    except (psycopg.Error, PoolTimeout):  # the rest of the figures still go out
        pass
    body, _ = metrics.exposition(lambda: families)
    response = Response(body, content_type=CONTENT_TYPE)
    response.cache_control.no_store = True
    return response
