"""Admin console: user changes made by an admin, audit log reads, the sales report.

User creation, lookups and the user list are in cms.repositories.users; audit
writes in cms.repositories.audit.
"""

from __future__ import annotations

import datetime as dt

from psycopg import Connection

from cms.db import fetch_all, fetch_one, query

LOCK_USERS = query("admin_lock_users")
UPDATE_USER = query("admin_update_user")
LIST_ACTIONS = query("admin_list_actions")
SALES_TOTALS = query("seller_report_totals")  # seller_id NULL: every seller
SELLER_PERFORMANCE = query("admin_seller_performance")
RECENT_TRANSACTIONS = query("admin_recent_transactions")

# Audit actions whose target_id is a user id: the audit log shows that user as
# targetUser. Every other action (car approval, rejection, ...) targets a car
# or nothing, and its targetUser is null.
USER_TARGET_ACTIONS = (
    "create_user",
    "create_seller",
    "update_user",
    # Names the old server may have written for user changes.
    "activate_user",
    "deactivate_user",
    "update_user_role",
    "update_user_status",
    "delete_user",
)

RECENT_TRANSACTIONS_LIMIT = 10


def lock_users(conn: Connection, user_ids: list[int]) -> dict[int, dict]:
    """Lock these users' rows FOR UPDATE (in id order) for the transaction; {id: row} of those found."""
    rows = fetch_all(conn, LOCK_USERS, {"ids": sorted(set(user_ids))})
    return {row["id"]: row for row in rows}


def update_user(conn: Connection, user_id: int, changes: dict) -> dict | None:
    """Apply the keys present in `changes` (is_active, role, name, phone, address); the updated row."""
    return fetch_one(conn, UPDATE_USER, {
        "id": user_id,
        "set_is_active": "is_active" in changes, "is_active": changes.get("is_active"),
        "set_role": "role" in changes, "role": changes.get("role"),
        "set_name": "name" in changes, "name": changes.get("name"),
        "set_phone": "phone" in changes, "phone": changes.get("phone"),
        "set_address": "address" in changes, "address": changes.get("address"),
    })


def list_actions(conn: Connection, *, action_type: str | None, created_from: dt.datetime | None,
                 created_before: dt.datetime | None, limit: int, offset: int) -> tuple[list[dict], int]:
    """One page of the audit log, newest first, and the number of matching actions."""
    rows = fetch_all(conn, LIST_ACTIONS, {
        "action_type": action_type,
        "created_from": created_from,
        "created_before": created_before,
        "limit": limit,
        "offset": offset,
        "user_action_types": list(USER_TARGET_ACTIONS),
    })
    total = rows[0]["total"] if rows else 0
    return [row for row in rows if row["id"] is not None], total


def sales_totals(conn: Connection) -> dict:
    """{total_sales, total_revenue} over paid and completed orders."""
    return fetch_one(conn, SALES_TOTALS, {"seller_id": None})


def seller_performance(conn: Connection) -> list[dict]:
    return fetch_all(conn, SELLER_PERFORMANCE)


def recent_transactions(conn: Connection, limit: int = RECENT_TRANSACTIONS_LIMIT) -> list[dict]:
    return fetch_all(conn, RECENT_TRANSACTIONS, {"limit": limit})
