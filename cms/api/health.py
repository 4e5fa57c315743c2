"""GET /ping: liveness plus database, migration and pool facts."""

from __future__ import annotations

import datetime as dt

import psycopg
from flask import Blueprint, jsonify
from psycopg_pool import PoolTimeout

from cms import db

bp = Blueprint("health", __name__)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@bp.get("/ping")
def ping():
    pool = db.get_pool()
    stats = pool.get_stats()
    pool_stats = {
        "size": stats.get("pool_size", 0),
        "available": stats.get("pool_available", 0),
        "waiting": stats.get("requests_waiting", 0),
        "max": pool.max_size,
    }
    try:
        conn = db.connection()
        version = db.server_version(conn)
        migration = db.applied_migration(conn)
    except (psycopg.Error, PoolTimeout) as error:  # unreachable, or unable to answer a trivial query
        return jsonify({
            "status": "degraded",
            "database": "disconnected",
            "error": f"Database unreachable: {type(error).__name__}",
            "timestamp": _now(),
            "pool": pool_stats,
        }), 503
    return jsonify({
        "status": "alive",
        "database": "connected",
        "timestamp": _now(),
        "databaseVersion": version,
        "migrationVersion": migration,
        "pool": pool_stats,
    })
