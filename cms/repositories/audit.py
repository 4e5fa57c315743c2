"""The admin audit log (admin_actions)."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from cms.db import execute, query

INSERT_ADMIN_ACTION = query("insert_admin_action")

SECRET_KEYS = {"password", "passwordhash", "password_hash", "temporarypassword", "temporary_password", "token"}


def _without_secrets(details: dict) -> dict:
    return {k: v for k, v in details.items() if k.replace("_", "").lower() not in SECRET_KEYS}


def record_admin_action(conn: Connection, *, admin_id: int, action_type: str,
                        target_id: int | None, details: dict | None = None) -> None:
    """Write an audit row (never with passwords); call it inside the change's transaction."""
    execute(conn, INSERT_ADMIN_ACTION, {
        "admin_id": admin_id,
        "action_type": action_type,
        "target_id": target_id,
        "details": Jsonb(_without_secrets(details or {})),
    })
