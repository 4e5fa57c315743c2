"""GET /ping and GET /api/admin/health."""

from __future__ import annotations

from marshmallow import fields

from cms.schemas.fields import OutputSchema


class PoolStatsSchema(OutputSchema):
    size = fields.Integer()
    available = fields.Integer()
    waiting = fields.Integer()
    max = fields.Integer()


class ReplicaStatusSchema(OutputSchema):
    """One read replica of DATABASE_REPLICA_URL, as last checked."""

    name = fields.String(required=True, metadata={"description": "its URL without the password"})
    state = fields.String(required=True, metadata={"enum": ["ok", "down", "lagging", "promoted", "unknown"]})
    lagSeconds = fields.Float(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)


class PingSchema(OutputSchema):
    """GET /ping; on 503 status is "degraded", database "disconnected" and error says why."""

    status = fields.String(required=True, metadata={"enum": ["alive", "degraded"]})
    database = fields.String(required=True, metadata={"enum": ["connected", "disconnected"]})
    timestamp = fields.String(required=True, metadata={"format": "date-time"})
    error = fields.String()


class HealthDetailsSchema(PingSchema):
    """GET /api/admin/health: /ping plus the server version, applied migration, pool figures and replicas."""

    databaseVersion = fields.String()
    migrationVersion = fields.String(allow_none=True)
    pool = fields.Nested(PoolStatsSchema)
    replicas = fields.List(fields.Nested(ReplicaStatusSchema),
                           metadata={"description": "only with DATABASE_REPLICA_URL: each replica's state and lag"})
