"""GET /ping (public liveness, the contract's shape) and GET /api/admin/health (the details, with each
read replica's state and lag)."""

from __future__ import annotations

import datetime as dt

import psycopg
from flask import Blueprint, jsonify
from psycopg_pool import PoolTimeout

from cms import db
from cms.api.declare import ADMIN, PUBLIC, declare
from cms.schemas.fields import utc_text
from cms.schemas.health import HealthDetailsSchema, PingSchema

bp = Blueprint("health", __name__)


def _now() -> str:
    return utc_text(dt.datetime.now(dt.UTC))


def _down(error: Exception, **extra):
    return jsonify({
        "status": "degraded",
        "database": "disconnected",
        "error": f"Database unreachable: {type(error).__name__}",
        "timestamp": _now(),
        **extra,
    }), 503


# Both routes build their answers here rather than through the schemas they declare: the alive
# and degraded answers keep their own key order.

@bp.get("/ping")
@declare("Liveness and database state", auth=PUBLIC, response=PingSchema)
def ping():
    """Alive and whether the database answers: nothing an attacker could use (server version,
    pool figures) — those are for admins, at /api/admin/health."""
    try:
        db.server_version(db.connection())
    except (psycopg.Error, PoolTimeout) as error:  # unreachable, or unable to answer a trivial query
        return _down(error)
    return jsonify({"status": "alive", "database": "connected", "timestamp": _now()})


@bp.get("/api/admin/health")
@declare("Liveness plus database version, migration and pool figures", auth=ADMIN, response=HealthDetailsSchema)
def health_details():
    """/ping plus PostgreSQL's version, the applied migration, this process's pool figures and, with
    DATABASE_REPLICA_URL, each replica's state and lag."""
    pool = db.get_pool()
    stats = pool.get_stats()
    pool_stats = {
        "size": stats.get("pool_size", 0),
        "available": stats.get("pool_available", 0),
        "waiting": stats.get("requests_waiting", 0),
        "max": pool.max_size,
    }
    replicas = db.get_replicas()
    if replicas is not None:
        pool_stats_and_replicas = {"pool": pool_stats, "replicas": replicas.report()}
    else:
        pool_stats_and_replicas = {"pool": pool_stats}
    try:
        conn = db.connection()
        version = db.server_version(conn)
        migration = db.applied_migration(conn)
    except (psycopg.Error, PoolTimeout) as error:
        return _down(error, **pool_stats_and_replicas)
    return jsonify({
        "status": "alive",
        "database": "connected",
        "timestamp": _now(),
        "databaseVersion": version,
        "migrationVersion": migration,
        **pool_stats_and_replicas,
    })
