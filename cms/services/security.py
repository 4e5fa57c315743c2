"""The security log and the login throttle, both kept in PostgreSQL (auth_events).

Failures are counted per email (since its last successful login) and per
client address over a sliding window, so the limit holds across worker
processes and service instances.
"""

from __future__ import annotations

import math

from flask import request
from psycopg import Connection

from cms.auth import caller_ip
from cms.repositories import admin_ops as ops_repo

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20


def record(conn: Connection, event_type: str, *, user_id: int | None = None, email: str | None = None,
           details: dict | None = None) -> None:
    """Add an auth event with the caller's address and user agent (never a password)."""
    ops_repo.insert_auth_event(
        conn,
        event_type=event_type,
        user_id=user_id,
        email=email,
        ip=caller_ip()[:64] or None,
        user_agent=request.headers.get("User-Agent", ""),
        details=details,
    )


def login_retry_after(conn: Connection, email: str) -> int | None:
    """Seconds to wait before this email or address may try again, or None when allowed."""
    figures = ops_repo.recent_login_failures(
        conn, email=email, ip=caller_ip()[:64], window_seconds=WINDOW_SECONDS
    )
    waits = []
    if figures["email_failures"] >= MAX_FAILURES_PER_EMAIL:
        waits.append(figures["email_retry_after"])
    if figures["ip_failures"] >= MAX_FAILURES_PER_IP:
        waits.append(figures["ip_retry_after"])
    if not waits:
        return None
    return max(1, math.ceil(float(max(waits))))
