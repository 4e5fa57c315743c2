"""Every write an admin makes lands in the audit log, whichever route it goes through."""

from __future__ import annotations

from flask_login import current_user
from psycopg import Connection

from cms.repositories.audit import record_admin_action


def record_if_admin(conn: Connection, action_type: str, target_id: int | None, details: dict | None = None) -> None:
    """Audit the caller's write when the caller is an admin (call it inside the write's transaction).

    The admin console's own routes always audit; the shared seller routes (cars, images, orders,
    inventory, inquiries) audit only when an admin uses them."""
    if current_user.is_authenticated and current_user.role == "admin":
        record_admin_action(conn, admin_id=current_user.id, action_type=action_type, target_id=target_id,
                            details=details)
