"""Idempotency keys: the stored first answers of creating POSTs (idempotency_keys)."""

from __future__ import annotations

from psycopg import Connection

from cms.db import execute, fetch_one, query

IDEMPOTENCY_LOCK_KEY = query("idempotency_lock_key")
IDEMPOTENCY_FIND_KEY = query("idempotency_find_key")
IDEMPOTENCY_DELETE_EXPIRED = query("idempotency_delete_expired")
IDEMPOTENCY_RECORD_KEY = query("idempotency_record_key")


def lock_key(conn: Connection, scope: str, key: str) -> None:
    """Wait for any other transaction holding this key; hold it until this one ends."""
    fetch_one(conn, IDEMPOTENCY_LOCK_KEY, {"scope": scope, "idempotency_key": key})


def find_key(conn: Connection, scope: str, key: str, ttl_hours: int) -> dict | None:
    """The unexpired stored answer (request_hash, status, content_type, body), or None."""
    return fetch_one(conn, IDEMPOTENCY_FIND_KEY, {"scope": scope, "idempotency_key": key, "ttl_hours": ttl_hours})


def delete_expired(conn: Connection, scope: str, key: str, ttl_hours: int, batch: int) -> int:
    """Delete up to `batch` expired keys (this one first, when it expired); returns how many."""
    return execute(conn, IDEMPOTENCY_DELETE_EXPIRED,
                   {"scope": scope, "idempotency_key": key, "ttl_hours": ttl_hours, "batch": batch})


def record_key(conn: Connection, *, scope: str, key: str, request_hash: bytes, status: int, content_type: str,
               body: bytes) -> None:
    execute(conn, IDEMPOTENCY_RECORD_KEY, {
        "scope": scope, "idempotency_key": key, "request_hash": request_hash, "status": status,
        "content_type": content_type, "body": body,
    })
