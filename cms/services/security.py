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
and the attempt is recorded as a failure before the password check, then settled), so parallel
guesses cannot slip past the limits; an attempt held back only by attempts still being checked
waits for their outcome instead of being refused, so parallel right passwords all succeed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from psycopg import Connection

from cms.errors import Invalid, TooManyRequests
from cms.repositories import admin_ops as ops_repo

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_PAIR = 5
MAX_FAILURES_PER_ADDRESS = 20
ACCOUNT_SLOWDOWN_AFTER = MAX_FAILURES_PER_PAIR
MAX_ACCOUNT_DELAY_SECONDS = 60
# An attempt held back only by others still being checked waits this long for them (polling).
PENDING_WAIT_SECONDS = 10.0
PENDING_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Client:
    """Where a request came from (read by the api layer): the address and the user agent."""

    ip: str
    user_agent: str

    @property
    def address(self) -> str | None:
        """The address as auth_events keeps it (at most 64 characters; None when unknown)."""
        return self.ip[:64] or None


def record(conn: Connection, client: Client, event_type: str, *, user_id: int | None = None,
           email: str | None = None, details: dict | None = None) -> None:
    """Add an auth event with the client's address and user agent (never a password)."""
    ops_repo.insert_auth_event(
        conn,
        event_type=event_type,
        user_id=user_id,
        email=email,
        ip=client.address,
        user_agent=client.user_agent,
        details=details,
    )


def account_delay(failures: int) -> float:
    """Seconds an account waits after its latest failure, given its failures from all addresses."""
    if failures <= ACCOUNT_SLOWDOWN_AFTER:
        return 0.0
    return float(min(2 ** (failures - ACCOUNT_SLOWDOWN_AFTER - 1), MAX_ACCOUNT_DELAY_SECONDS))


def retry_after(figures: dict, *, with_pending: bool = False) -> int | None:
    """Seconds to wait before this email from this address may try again, or None when allowed.

    `with_pending` also counts the attempts still being checked as failures (each may be one)."""
    def count(name: str) -> int:
        return figures[f"{name}_failures"] + (figures[f"{name}_pending"] if with_pending else 0)

    waits = []
    if count("pair") >= MAX_FAILURES_PER_PAIR:
        waits.append(float(figures["pair_retry_after"]))
    if count("ip") >= MAX_FAILURES_PER_ADDRESS:
        waits.append(float(figures["ip_retry_after"]))
    delay = account_delay(count("account"))
    age = figures["account_last_attempt_age" if with_pending else "account_last_failure_age"]
    if delay and age is not None and delay - float(age) > 0:
        waits.append(delay - float(age))
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def begin_login_attempt(conn: Connection, client: Client, email: str) -> int:
    """Check the throttle and record the attempt (as a failure until settled) in one step.

    Raises TooManyRequests (and logs login_throttled) when refused; returns the attempt's id.
    When only attempts still being checked stand in the way (parallel logins of one account),
    this one waits for them to be settled, up to PENDING_WAIT_SECONDS, rather than being refused:
    parallel guesses still get at most the limit's worth of answers, and parallel right
    passwords all succeed. `conn` is in autocommit mode: the attempt is committed before the
    (slow) password check.
    """
    ip = client.address
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    while True:
        with conn.transaction():
            ops_repo.lock_login_throttle(conn, email=email, ip=ip)
            figures = ops_repo.login_throttle_figures(conn, email=email, ip=ip, window_seconds=WINDOW_SECONDS)
            wait = retry_after(figures)
            pending_wait = None if wait is not None else retry_after(figures, with_pending=True)
            if wait is None and pending_wait is None:
                return ops_repo.begin_login_attempt(conn, email=email, ip=ip, user_agent=client.user_agent)
        if wait is not None or time.monotonic() >= deadline:
            wait = wait if wait is not None else pending_wait
            record(conn, client, "login_throttled", email=email, details={"retryAfter": wait})
            raise TooManyRequests(f"Too many failed logins; try again in {wait} seconds", wait)
        time.sleep(PENDING_POLL_SECONDS)


def settle_login_attempt(conn: Connection, attempt_id: int, *, success: bool, user_id: int | None,
                         reason: str | None = None) -> None:
    """What the password check found: a success (which resets the account's count) or a failure."""
    ops_repo.settle_login_attempt(
        conn, attempt_id, event_type="login_success" if success else "login_failure", user_id=user_id,
        details=None if success else {"reason": reason},
    )


def security_log(conn: Connection, filters: dict) -> tuple[list[dict], int]:
    """A page of auth events (filters: event type, email, ip, start/end) and the total."""
    if filters["start_at"] and filters["end_at"] and filters["start_at"] > filters["end_at"]:
        raise Invalid("startDate must not be after endDate")
    rows = ops_repo.list_auth_events(conn, filters)
    return rows, rows[0]["total_count"] if rows else 0
