"""The notification outbox and its delivery attempts."""

from __future__ import annotations

from psycopg import Connection

from cms.db import execute, fetch_all, fetch_value, query

ENQUEUE_NOTIFICATION = query("enqueue_notification")
CLAIM_DUE_NOTIFICATIONS = query("claim_due_notifications")
MARK_NOTIFICATION_SENT = query("mark_notification_sent")
MARK_NOTIFICATION_FAILED = query("mark_notification_failed")
INSERT_NOTIFICATION_ATTEMPT = query("insert_notification_attempt")
LIST_RECENT_NOTIFICATIONS = query("list_recent_notifications")
COUNT_PENDING_NOTIFICATIONS = query("count_pending_notifications")


def enqueue(conn: Connection, kind: str, message: str) -> int:
    return fetch_value(conn, ENQUEUE_NOTIFICATION, {"kind": kind, "message": message})


def claim_due(conn: Connection, batch: int) -> list[dict]:
    return fetch_all(conn, CLAIM_DUE_NOTIFICATIONS, {"batch": batch})


def mark_sent(conn: Connection, outbox_id: int, telegram_message_id: int | None) -> None:
    execute(conn, MARK_NOTIFICATION_SENT, {"id": outbox_id, "telegram_message_id": telegram_message_id})


def mark_failed(conn: Connection, outbox_id: int, error: str, retry_in_seconds: float, give_up: bool) -> None:
    execute(conn, MARK_NOTIFICATION_FAILED, {
        "id": outbox_id, "error": error, "retry_in_seconds": retry_in_seconds, "give_up": give_up,
    })


def insert_attempt(conn: Connection, *, outbox_id: int, attempt_number: int, status: str,
                   telegram_message_id: int | None, error: str | None, worker: str) -> None:
    execute(conn, INSERT_NOTIFICATION_ATTEMPT, {
        "outbox_id": outbox_id, "attempt_number": attempt_number, "status": status,
        "telegram_message_id": telegram_message_id, "error": error, "worker": worker,
    })


def list_recent(conn: Connection, limit: int, offset: int) -> list[dict]:
    return fetch_all(conn, LIST_RECENT_NOTIFICATIONS, {"limit": limit, "offset": offset})


def count_pending(conn: Connection) -> int:
    return fetch_value(conn, COUNT_PENDING_NOTIFICATIONS, {})
