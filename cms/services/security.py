"""The security log and the limits on logins and registrations, all kept in PostgreSQL (auth_events).

The throttle (OWASP Authentication Cheat Sheet, "Protect against automated attacks") slows
password guessing without handing strangers the power to lock an owner out:

- per address and account: MAX_FAILURES_PER_PAIR failures for one email from one address (since
  that address's last success for it) refuse that pair (429) until the oldest leaves the window;
- per address: MAX_FAILURES_PER_ADDRESS failures from one address (any email) refuse the address;
- per account, from every address together: beyond ACCOUNT_SLOWDOWN_AFTER failures since the
  account's last success, each further attempt must wait an exponentially growing delay after the
  latest failure (1 s, 2 s, 4 s … capped at MAX_ACCOUNT_DELAY_SECONDS). That is a slowdown, never a
  lockout: the owner waits at most a minute, while a botnet gets a few dozen guesses per window.

Every attempt counts against its address too, whatever its outcome, because each costs a bcrypt
check or hash (~73 ms of a core at cost 10): MAX_LOGINS_PER_ADDRESS logins per
LOGIN_ATTEMPT_WINDOW_SECONDS and MAX_REGISTRATIONS_PER_ADDRESS registrations per
REGISTRATION_WINDOW_SECONDS (refused ones included: they hash too), then 429 until the oldest
leaves the window.

Refusals (429) do not write a row each: refusals of one kind from one address within one
REFUSAL_WINDOW_SECONDS window are one row with a count (record_refusal), so the security log grows
with the addresses that are refused, not with their requests.

One stranger alone contributes at most MAX_FAILURES_PER_PAIR failures per window, which is not
enough to slow the account: an owner logging in from their own address is never refused because of
one stranger. Checking and recording are one step (advisory locks on the email and the address,
and the attempt is recorded as a failure before the password check, then settled), so parallel
guesses cannot slip past the limits; an attempt held back only by attempts still being checked
waits for their outcome instead of being refused, so parallel right passwords all succeed (up to
the limit per address).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NoReturn

from psycopg import Connection

from cms.errors import Invalid, TooManyRequests
from cms.repositories import admin_ops as ops_repo

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_PAIR = 5
MAX_FAILURES_PER_ADDRESS = 20
ACCOUNT_SLOWDOWN_AFTER = MAX_FAILURES_PER_PAIR
MAX_ACCOUNT_DELAY_SECONDS = 60
# Attempts from one address, whatever their outcome (bcrypt's CPU): an office behind one address
# logging in at nine stays far below; 64 parallel logins from one client do not.
MAX_LOGINS_PER_ADDRESS = 30
LOGIN_ATTEMPT_WINDOW_SECONDS = 60
# A person registers once; a household or office behind one address a few times an hour.
MAX_REGISTRATIONS_PER_ADDRESS = 10
REGISTRATION_WINDOW_SECONDS = 60 * 60
# Refusals of one kind from one address within this window are one row with a count.
REFUSAL_WINDOW_SECONDS = WINDOW_SECONDS
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


def refuse(conn: Connection, client: Client, event_type: str, email: str | None, wait: int,
           message: str) -> NoReturn:
    """Count the refusal (login_throttled, register_throttled) and raise TooManyRequests (429)."""
    ops_repo.record_refusal(conn, event_type=event_type, email=email, ip=client.address,
                            user_agent=client.user_agent, details={"retryAfter": wait},
                            window_seconds=REFUSAL_WINDOW_SECONDS)
    raise TooManyRequests(message, wait)


def _seconds(value) -> int:
    """A wait in whole seconds, at least 1."""
    return max(1, math.ceil(float(value or 0)))


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
    return _seconds(max(waits))


def address_wait(conn: Connection, ip: str | None, event_types: tuple[str, ...], limit: int,
                 window_seconds: int) -> int | None:
    """Seconds before this address may try again, or None: `limit` attempts of these types (of any
    outcome, being checked included) within `window_seconds`. Call it under the address's lock."""
    figures = ops_repo.address_attempts(conn, ip=ip, event_types=event_types, window_seconds=window_seconds)
    return None if figures["attempts"] < limit else _seconds(figures["retry_after"])


def begin_login_attempt(conn: Connection, client: Client, email: str) -> int:
    """Check the throttle and record the attempt (as a failure until settled) in one step.

    Raises TooManyRequests (counted as login_throttled) when refused; returns the attempt's id.
    When only attempts still being checked stand in the way (parallel logins of one account),
    this one waits for them to be settled, up to PENDING_WAIT_SECONDS, rather than being refused:
    parallel guesses still get at most the limit's worth of answers, and parallel right
    passwords all succeed (up to MAX_LOGINS_PER_ADDRESS from one address). `conn` is in
    autocommit mode: the attempt is committed before the (slow) password check.
    """
    ip = client.address
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    while True:
        with conn.transaction():
            ops_repo.lock_login_throttle(conn, email=email, ip=ip)
            busy = address_wait(conn, ip, ("login_success", "login_failure"), MAX_LOGINS_PER_ADDRESS,
                                LOGIN_ATTEMPT_WINDOW_SECONDS)
            figures = ops_repo.login_throttle_figures(conn, email=email, ip=ip, window_seconds=WINDOW_SECONDS)
            wait = retry_after(figures)
            pending_wait = None if wait is not None else retry_after(figures, with_pending=True)
            if busy is None and wait is None and pending_wait is None:
                return ops_repo.begin_auth_attempt(conn, event_type="login_failure", email=email, ip=ip,
                                                   user_agent=client.user_agent)
        if busy is not None:
            refuse(conn, client, "login_throttled", email, busy,
                   f"Too many logins from this address; try again in {busy} seconds")
        if wait is not None or time.monotonic() >= deadline:
            wait = wait if wait is not None else pending_wait
            refuse(conn, client, "login_throttled", email, wait, f"Too many failed logins; try again in {wait} seconds")
        time.sleep(PENDING_POLL_SECONDS)


def settle_login_attempt(conn: Connection, attempt_id: int, *, success: bool, user_id: int | None,
                         reason: str | None = None) -> None:
    """What the password check found: a success (which resets the account's count) or a failure."""
    ops_repo.settle_auth_attempt(
        conn, attempt_id, event_type="login_success" if success else "login_failure", user_id=user_id,
        details=None if success else {"reason": reason},
    )


def begin_registration(conn: Connection, client: Client, email: str) -> int:
    """Check the address's registration limit and record the attempt (a register_failure until
    settled) in one step; raises TooManyRequests (counted as register_throttled) when refused.
    Returns the attempt's id. `conn` is in autocommit mode: the attempt is committed before the
    (slow) password hash, so parallel registrations count at once."""
    ip = client.address
    with conn.transaction():
        ops_repo.lock_registration_throttle(conn, ip=ip)
        wait = address_wait(conn, ip, ("register", "register_failure"), MAX_REGISTRATIONS_PER_ADDRESS,
                            REGISTRATION_WINDOW_SECONDS)
        if wait is None:
            return ops_repo.begin_auth_attempt(conn, event_type="register_failure", email=email, ip=ip,
                                               user_agent=client.user_agent)
    refuse(conn, client, "register_throttled", email, wait,
           f"Too many registrations from this address; try again in {wait} seconds")


def settle_registration(conn: Connection, attempt_id: int, *, user: dict | None = None,
                        reason: str | None = None) -> None:
    """What became of a registration: the account (register) or why it was refused (register_failure)."""
    if user is not None:
        ops_repo.settle_auth_attempt(conn, attempt_id, event_type="register", user_id=user["id"],
                                     details={"role": user["role"]})
    else:
        ops_repo.settle_auth_attempt(conn, attempt_id, event_type="register_failure", user_id=None,
                                     details={"reason": reason})


def security_log(conn: Connection, filters: dict) -> tuple[list[dict], int]:
    """A page of auth events (filters: event type, email, ip, start/end) and the total."""
    if filters["start_at"] and filters["end_at"] and filters["start_at"] > filters["end_at"]:
        raise Invalid("startDate must not be after endDate")
    rows = ops_repo.list_auth_events(conn, filters)
    return rows, rows[0]["total_count"] if rows else 0
