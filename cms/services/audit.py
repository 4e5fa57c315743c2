"""The admin audit log: every write an admin makes, whichever route it goes through."""

from __future__ import annotations

from psycopg import Connection

from cms.repositories import audit as audit_repo
from cms.services.access import Caller, is_admin

SECRET_KEYS = {"password", "passwordhash", "password_hash", "temporarypassword", "temporary_password", "token"}


def _without_secrets(details: dict) -> dict:
    return {k: v for k, v in details.items() if k.replace("_", "").lower() not in SECRET_KEYS}


def record(conn: Connection, caller: Caller, action_type: str, target_id: int | None,
           details: dict | None = None) -> None:
    """Audit the caller's write when the caller is an admin (never with passwords); call it
    inside the write's transaction, so the entry exists exactly when the change does.

    The admin console's routes are admin-only, so they always audit; the routes shared with
    sellers (cars, images, orders, inventory, inquiries) audit only when an admin uses them.
    """
    if is_admin(caller):
        audit_repo.insert_admin_action(conn, admin_id=caller.id, action_type=action_type, target_id=target_id,
                                       details=_without_secrets(details or {}))
