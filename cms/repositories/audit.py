"""The admin audit log (admin_actions). The rules (who, when, no secrets) are cms.services.audit's."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from cms.db import execute, query

INSERT_ADMIN_ACTION = query("insert_admin_action")


def insert_admin_action(conn: Connection, *, admin_id: int, action_type: str, target_id: int | None,
                        details: dict) -> None:
    """Write one audit row."""
    execute(conn, INSERT_ADMIN_ACTION, {
        "admin_id": admin_id,
        "action_type": action_type,
        "target_id": target_id,
        "details": Jsonb(details),
    })
