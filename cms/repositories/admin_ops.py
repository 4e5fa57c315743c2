"""Security log, dashboard figures and seller performance."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb

from cms.db import execute, fetch_all, fetch_one, query

LIST_AUTH_EVENTS = query("list_auth_events")
INSERT_AUTH_EVENT = query("insert_auth_event")
DASHBOARD_FIGURES = query("dashboard_figures")
SELLER_PERFORMANCE_TOTALS = query("seller_performance_totals")
SELLER_PERFORMANCE_BY_MONTH = query("seller_performance_by_month")


def list_auth_events(conn: Connection, filters: dict) -> list[dict]:
    return fetch_all(conn, LIST_AUTH_EVENTS, filters)


def insert_auth_event(conn: Connection, *, event_type: str, user_id: int | None, email: str | None,
                      ip: str | None, user_agent: str | None, details: dict | None = None) -> None:
    execute(conn, INSERT_AUTH_EVENT, {
        "event_type": event_type, "user_id": user_id, "email": email, "ip": ip,
        "user_agent": user_agent or "", "details": Jsonb(details or {}),
    })


def dashboard_figures(conn: Connection) -> dict:
    return fetch_one(conn, DASHBOARD_FIGURES)


def seller_performance(conn: Connection, seller_id: int, months: int) -> tuple[dict | None, list[dict]]:
    totals = fetch_one(conn, SELLER_PERFORMANCE_TOTALS, {"seller_id": seller_id})
    if totals is None:
        return None, []
    return totals, fetch_all(conn, SELLER_PERFORMANCE_BY_MONTH, {"seller_id": seller_id, "months": months})


LOCK_LOGIN_THROTTLE = query("lock_login_throttle")
LOGIN_THROTTLE_FIGURES = query("login_throttle_figures")
LOCK_REGISTRATION_THROTTLE = query("lock_registration_throttle")
ADDRESS_ATTEMPTS = query("address_attempts")
BEGIN_AUTH_ATTEMPT = query("begin_auth_attempt")
SETTLE_AUTH_ATTEMPT = query("settle_auth_attempt")
RECORD_REFUSAL = query("record_refusal")


def lock_login_throttle(conn: Connection, *, email: str, ip: str | None) -> None:
    """Hold the email's and the address's throttle locks until the transaction ends."""
    fetch_one(conn, LOCK_LOGIN_THROTTLE, {"email": email, "ip": ip})


def login_throttle_figures(conn: Connection, *, email: str, ip: str | None, window_seconds: int) -> dict:
    return fetch_one(conn, LOGIN_THROTTLE_FIGURES, {"email": email, "ip": ip, "window_seconds": window_seconds})


def lock_registration_throttle(conn: Connection, *, ip: str | None) -> None:
    """Hold the address's registration lock until the transaction ends."""
    fetch_one(conn, LOCK_REGISTRATION_THROTTLE, {"ip": ip})


def address_attempts(conn: Connection, *, ip: str | None, event_types: tuple[str, ...], window_seconds: int) -> dict:
    """{attempts, retry_after}: attempts of these types from the address within the window."""
    return fetch_one(conn, ADDRESS_ATTEMPTS, {"ip": ip, "event_types": list(event_types),
                                              "window_seconds": window_seconds})


def begin_auth_attempt(conn: Connection, *, event_type: str, email: str, ip: str | None,
                       user_agent: str | None) -> int:
    """Record the attempt as a failure (`event_type`) until settled; returns its id."""
    row = fetch_one(conn, BEGIN_AUTH_ATTEMPT, {
        "event_type": event_type, "email": email, "ip": ip, "user_agent": user_agent or "",
    })
    return row["id"]


def settle_auth_attempt(conn: Connection, attempt_id: int, *, event_type: str, user_id: int | None,
                        details: dict | None = None) -> None:
    execute(conn, SETTLE_AUTH_ATTEMPT, {
        "id": attempt_id, "event_type": event_type, "user_id": user_id, "details": Jsonb(details or {}),
    })


def record_refusal(conn: Connection, *, event_type: str, email: str | None, ip: str | None,
                   user_agent: str | None, details: dict, window_seconds: int) -> None:
    """Add one refusal to the count of its event type, address and window."""
    execute(conn, RECORD_REFUSAL, {
        "event_type": event_type, "email": email, "ip": ip, "user_agent": user_agent or "",
        "details": Jsonb(details), "window_seconds": window_seconds,
    })
