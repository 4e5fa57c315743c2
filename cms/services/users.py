"""Users and sign-in: registration, login (security log, throttle), the caller's profile, the user list."""

from __future__ import annotations

import psycopg
from psycopg import Connection

from cms.errors import Invalid
from cms.repositories import users as users_repo
from cms.services import passwords, security
from cms.services.access import Caller
from cms.services.security import Client

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_USED = "Email used"
# Checked when the email is unknown, so that a login costs one bcrypt check whatever
# the account's state (the answer's timing must not tell which emails exist).
_UNUSED_HASH = "$2b$10$.jltGrhXxkYDAkZ82iTnMOfmWm8CdaioTBasRxE0I1O.ZDL4s.8km"


def register(conn: Connection, client: Client, *, name: str, email: str, password: str, role: str,
             bcrypt_rounds: int) -> dict:
    """A new user or seller (a taken email, compared case-insensitively, is a 400), logged as "register".

    Limited per address (cms.services.security: MAX_REGISTRATIONS_PER_ADDRESS, 429 with
    Retry-After): the attempt is counted before its password is hashed, and a refused one
    ("Email used") stays counted as register_failure.
    """
    passwords.password_bytes(password)  # too long: a 400 before anything is counted
    attempt = security.begin_registration(conn, client, email)
    try:
        password_hash = passwords.hash_password(password, bcrypt_rounds)
        with conn.transaction():
            if users_repo.email_taken(conn, email):
                raise Invalid(EMAIL_USED)
            try:
                user = users_repo.insert_user(conn, name=name, email=email, password_hash=password_hash, role=role)
            except psycopg.errors.UniqueViolation:  # registered concurrently with the same email
                raise Invalid(EMAIL_USED) from None
            security.settle_registration(conn, attempt, user=user)
    except Invalid as refused:
        security.settle_registration(conn, attempt, reason=refused.message)
        raise
    return user


def login(conn: Connection, client: Client, *, email: str, password: str, typed_email: str | None = None) -> dict:
    """The user whose credentials these are; every attempt lands in the security log.

    `email` is normalized (NFKC, cms.schemas.fields.normalized_email) and counts for the
    throttle; `typed_email`, the address as typed, finds an account stored before emails were
    normalized (it wins over the normalized form).

    Too many failures for one email from one address, from one address, or for one email from
    everywhere (a growing delay) answer 429 with Retry-After (cms.services.security); the counts
    live in PostgreSQL, so the limits hold across processes and instances, and checking and
    recording are one step. Unknown email, wrong password and deactivated account are one 400.
    """
    # autocommit: each event is kept whatever the answer
    attempt = security.begin_login_attempt(conn, client, email)
    user = users_repo.find_user_for_login(conn, email, typed_email or email)
    password_ok = passwords.check_password(password, user["password_hash"] if user else _UNUSED_HASH)
    if user is None or not password_ok or not user["is_active"]:
        reason = "unknown email" if user is None else "wrong password" if not password_ok else "deactivated"
        security.settle_login_attempt(conn, attempt, success=False, user_id=user["id"] if user else None,
                                      reason=reason)
        raise Invalid(INVALID_CREDENTIALS)
    with conn.transaction():
        users_repo.touch_last_login(conn, user["id"])
        security.settle_login_attempt(conn, attempt, success=True, user_id=user["id"])
    return user


def update_profile(conn: Connection, caller: Caller, changes: dict) -> dict:
    """Change the caller's name, phone, address or avatar."""
    with conn.transaction():
        return users_repo.update_profile(conn, caller.id, changes)


def list_users(conn: Connection) -> list[dict]:
    return users_repo.list_users(conn)
