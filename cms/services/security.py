"""The security log and the login throttle, both kept in PostgreSQL (auth_events).

The throttle (OWASP Authentication Cheat Sheet, "Protect against automated attacks") slows
password guessing without handing strangers the power to lock an owner out:

- per address and account: MAX_FAILURES_PER_PAIR failures for one email from one address (since
  that address's last success for it) refuse that pair (429) until the oldest leaves the window;
- per address: MAX_FAILURES_PER_ADDRESS failures from one address (any email) refuse the address;
- per account, from every address together: beyond ACCOUNT_SLOWDOWN_AFTER failures since the
  account's last success, each further attempt must wait an exponentially growing delay after the
  latest failure (1 s, 2 s, 4 s … capped at MAX_ACCOUNT_DELAY_SECONDS). That is a slowdown, never a
  lockout: the owner waits at most a minute, while a botnet gets a few dozen guesses per window.

One stranger alone contributes at most MAX_FAILURES_PER_PAIR failures per window, which is not
enough to slow the account: an owner logging in from their own address is never refused because of
one stranger. Checking and recording are one step (advisory locks on the email and the address,
and the attempt is recorded as a failure before the password check), so parallel guesses cannot
slip past the limits.
"""

from __future__ import annotations

import math

from flask import request
from psycopg import Connection

from cms.auth import caller_ip
from cms.errors import TooManyRequests
from cms.repositories import admin_ops as ops_repo

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_PAIR = 5
MAX_FAILURES_PER_ADDRESS = 20
ACCOUNT_SLOWDOWN_AFTER = MAX_FAILURES_PER_PAIR
MAX_ACCOUNT_DELAY_SECONDS = 60


def record(conn: Connection, event_type: str, *, user_id: int | None = None, email: str | None = None,
           details: dict | None = None) -> None:
    """Add an auth event with the caller's address and user agent (never a password)."""
    ops_repo.insert_auth_event(
        conn,
        event_type=event_type,
        user_id=user_id,
        email=email,
        ip=_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        details=details,
    )


def _ip() -> str | None:
    return caller_ip()[:64] or None


def account_delay(failures: int) -> float:
    """Seconds an account waits after its latest failure, given its failures from all addresses."""
    if failures <= ACCOUNT_SLOWDOWN_AFTER:
        return 0.0
    return float(min(2 ** (failures - ACCOUNT_SLOWDOWN_AFTER - 1), MAX_ACCOUNT_DELAY_SECONDS))


def retry_after(figures: dict) -> int | None:
    """Seconds to wait before this email from this address may try again, or None when allowed."""
    waits = []
    if figures["pair_failures"] >= MAX_FAILURES_PER_PAIR:
        waits.append(float(figures["pair_retry_after"]))
    if figures["ip_failures"] >= MAX_FAILURES_PER_ADDRESS:
        waits.append(float(figures["ip_retry_after"]))
    delay = account_delay(figures["account_failures"])
    if delay and figures["account_last_failure_age"] is not None:
        remaining = delay - float(figures["account_last_failure_age"])
        if remaining > 0:
            waits.append(remaining)
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def begin_login_attempt(conn: Connection, email: str) -> int:
    """Check the throttle and record the attempt (as a failure until settled) in one step.

    Raises TooManyRequests (and logs login_throttled) when refused; returns the attempt's id.
    `conn` is in autocommit mode: the attempt is committed before the (slow) password check.
    """
    ip = _ip()
    with conn.transaction():
        ops_repo.lock_login_throttle(conn, email=email, ip=ip)
        wait = retry_after(ops_repo.login_throttle_figures(conn, email=email, ip=ip, window_seconds=WINDOW_SECONDS))
        attempt_id = None if wait is not None else ops_repo.begin_login_attempt(
            conn, email=email, ip=ip, user_agent=request.headers.get("User-Agent", ""))
    if wait is not None:
        record(conn, "login_throttled", email=email, details={"retryAfter": wait})
        raise TooManyRequests(f"Too many failed logins; try again in {wait} seconds", wait)
    return attempt_id


def settle_login_attempt(conn: Connection, attempt_id: int, *, success: bool, user_id: int | None,
                         reason: str | None = None) -> None:
    """What the password check found: a success (which resets the account's count) or a failure."""
    ops_repo.settle_login_attempt(
        conn, attempt_id, event_type="login_success" if success else "login_failure", user_id=user_id,
        details=None if success else {"reason": reason},
    )
