"""The admin console's rules: approving and rejecting listings, creating and changing accounts,
the audit log. Every write and its audit entry share one transaction.

Decisions:
- POST /users: passwords of 8+ characters (at most 72 bytes, bcrypt's limit); a duplicate
  email, compared trimmed and case-insensitively, is a 400 "Email already exists".
- PATCH /users/:id: an admin cannot deactivate or demote themself: 403 with a message saying
  so. Fields sent with the value they already have are not changes: when nothing changes, the
  user comes back as it is and no audit entry is written.
"""

from __future__ import annotations

import psycopg
from psycopg import Connection

from cms.errors import Conflict, Forbidden, Invalid, NotFound
from cms.repositories import admin as admin_repo
from cms.repositories import cars as cars_repo
from cms.repositories import users as users_repo
from cms.services import audit, passwords, security
from cms.services import settings as settings_service
from cms.services.access import Caller
from cms.services.security import Client
from cms.services.settings import RuntimeSettings

# "approved" is what the admin console sends; the cars table knows it as "available".
STORED_STATUS = {"approved": "available", "available": "available", "rejected": "rejected"}


def set_approval(conn: Connection, caller: Caller, car_id: int, *, status: str, rejection_reason: str | None,
                 runtime: RuntimeSettings | None) -> dict:
    """Put a listing on sale (approved/available) or reject it (with an optional reason); a sold car is a 409."""
    stored = STORED_STATUS[status]
    reason = (rejection_reason or None) if stored == "rejected" else None
    with conn.transaction():
        car = cars_repo.lock_car(conn, car_id)
        if car is None:
            raise NotFound()
        if car["status"] == "sold":
            raise Conflict("This car is sold: its listing can no longer be approved or rejected")
        updated = cars_repo.set_approval(conn, car_id, status=stored, rejection_reason=reason)
        audit.record(conn, caller, "approve_car" if stored == "available" else "reject_car", car_id, {
            "carTitle": car["title"], "previousStatus": car["status"], "status": stored, "rejectionReason": reason,
        })
    return settings_service.priced(updated, runtime)


# --- accounts ------------------------------------------------------------------------

EMAIL_EXISTS = "Email already exists"
WEAK_PASSWORD = (
    "The password is too weak: use at least 8 characters with an upper-case letter, "
    f"a lower-case letter, a digit and one of {passwords.SYMBOLS}"
)
# Audit log keys of the fields PATCH /users/:id may change (camelCase, like the API).
AUDIT_KEYS = {"is_active": "isActive", "role": "role", "name": "name", "phone": "phone", "address": "address"}


def create_user(conn: Connection, caller: Caller, body: dict, *, bcrypt_rounds: int) -> dict:
    """An account of any role (audited as create_user); a taken email is a 400."""
    return _create_account(conn, caller, body, bcrypt_rounds=bcrypt_rounds, action_type="create_user", details={
        "name": body["name"], "email": body["email"], "role": body["role"],
    })


def create_seller(conn: Connection, caller: Caller, body: dict, *, bcrypt_rounds: int) -> tuple[dict, str | None]:
    """A seller account (audited as create_seller) and, when no password was given, the generated
    temporary one (returned once, never stored in clear); a given password must be strong."""
    generated = body["password"] is None
    password = passwords.generate_password() if generated else body["password"]
    if not generated:
        problems = passwords.password_problems(password)
        if problems:
            raise Invalid(WEAK_PASSWORD, {"password": problems})
    seller = _create_account(
        conn, caller, {**body, "password": password, "role": "seller"}, bcrypt_rounds=bcrypt_rounds,
        action_type="create_seller", details={
            "name": body["name"], "email": body["email"], "role": "seller",
            "phone": body["phone"], "address": body["address"], "generatedCredentials": generated,
        },
    )
    return seller, password if generated else None


def _create_account(conn: Connection, caller: Caller, body: dict, *, bcrypt_rounds: int, action_type: str,
                    details: dict) -> dict:
    """Insert the user and its audit entry in one transaction; a taken email is a 400."""
    password_hash = passwords.hash_password(body["password"], bcrypt_rounds)
    try:
        with conn.transaction():
            if users_repo.email_taken(conn, body["email"]):
                raise Invalid(EMAIL_EXISTS, {"email": ["An account already uses this email address."]})
            user = users_repo.insert_user(
                conn, name=body["name"], email=body["email"], password_hash=password_hash,
                role=body["role"], phone=body.get("phone"), address=body.get("address"),
            )
            audit.record(conn, caller, action_type, user["id"], details)
    except psycopg.errors.UniqueViolation:  # the same email created concurrently
        raise Invalid(EMAIL_EXISTS, {"email": ["An account already uses this email address."]}) from None
    return user


def update_user(conn: Connection, caller: Caller, client: Client, user_id: int, changes: dict) -> dict:
    """Activate, deactivate, change the role or contact fields of a user (audited; role and
    activation changes also go to the security log). An admin cannot lock themself out (403).
    Values equal to the current ones are no change: nothing is written then."""
    if user_id == caller.id:
        _refuse_self_lockout(changes)
    with conn.transaction():
        locked = admin_repo.lock_users(conn, [caller.id, user_id])
        current_caller = locked.get(caller.id)
        # Another admin may have demoted or deactivated the caller while we waited for the lock.
        if current_caller is None or current_caller["role"] != "admin" or not current_caller["is_active"]:
            raise Forbidden()
        target = locked.get(user_id)
        if target is None:
            raise NotFound("User not found")
        previous = {key: target[key] for key, value in changes.items() if target[key] != value}
        if not previous:
            return users_repo.get_user(conn, user_id)
        user = admin_repo.update_user(conn, user_id, {key: changes[key] for key in previous})
        audit.record(conn, caller, "update_user", user_id, {
            "email": target["email"],
            "changes": {AUDIT_KEYS[key]: changes[key] for key in previous},
            "previous": {AUDIT_KEYS[key]: value for key, value in previous.items()},
        })
        for key, event_type in (("role", "role_change"), ("is_active", "activation_change")):
            if key in previous:
                security.record(conn, client, event_type, user_id=user_id, email=target["email"], details={
                    "by": caller.id, "from": previous[key], "to": changes[key],
                })
    return user


def _refuse_self_lockout(changes: dict) -> None:
    if changes.get("is_active") is False:
        raise Forbidden("You cannot deactivate your own account")
    if "role" in changes and changes["role"] != "admin":
        raise Forbidden("You cannot change your own role; ask another admin")


# --- the audit log ---------------------------------------------------------------------

def list_actions(conn: Connection, params: dict) -> tuple[list[dict], int]:
    """A page of the audit log, newest first (filters: action type, created from/before), and the total."""
    return admin_repo.list_actions(
        conn,
        action_type=params["action_type"],
        created_from=params["created_from"],
        created_before=params["created_before"],
        limit=params["limit"],
        offset=params["offset"],
    )
