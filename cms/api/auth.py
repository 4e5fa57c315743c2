"""POST /api/auth/register and /api/auth/login."""

from __future__ import annotations

import psycopg
from flask import Blueprint, jsonify

from cms import auth, db
from cms.errors import Invalid
from cms.repositories import users as users_repo
from cms.schemas.fields import load_json
from cms.schemas.users import LoginSchema, RegisterSchema, UserSchema
from cms.services import security

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_USED = "Email used"
# Checked when the email is unknown, so that a login costs one bcrypt check whatever
# the account's state (the answer's timing must not tell which emails exist).
_UNUSED_HASH = "$2b$10$.jltGrhXxkYDAkZ82iTnMOfmWm8CdaioTBasRxE0I1O.ZDL4s.8km"


@bp.post("/register")
def register():
    body = load_json(RegisterSchema())
    password_hash = auth.hash_password(body["password"])
    with db.transaction() as conn:
        if users_repo.email_taken(conn, body["email"]):
            raise Invalid(EMAIL_USED)
        try:
            user = users_repo.insert_user(
                conn, name=body["name"], email=body["email"], password_hash=password_hash, role=body["role"]
            )
        except psycopg.errors.UniqueViolation:  # registered concurrently with the same email
            raise Invalid(EMAIL_USED) from None
        security.record(conn, "register", user_id=user["id"], email=user["email"], details={"role": user["role"]})
    return jsonify({"user": UserSchema().dump(user), "token": auth.issue_token(user)})


@bp.post("/login")
def login():
    """Every attempt lands in the security log. Too many failures for one email from one address,
    from one address, or for one email from everywhere (a growing delay) answer 429 with
    Retry-After (cms.services.security); the counts live in PostgreSQL, so the limits hold across
    processes and instances, and checking and recording are one step."""
    body = load_json(LoginSchema())
    email = body["email"]
    conn = db.connection()  # autocommit: each event is kept whatever the answer
    attempt = security.begin_login_attempt(conn, email)
    user = users_repo.find_user_for_login(conn, email)
    password_ok = auth.check_password(body["password"], user["password_hash"] if user else _UNUSED_HASH)
    if user is None or not password_ok or not user["is_active"]:
        reason = "unknown email" if user is None else "wrong password" if not password_ok else "deactivated"
        security.settle_login_attempt(conn, attempt, success=False, user_id=user["id"] if user else None,
                                      reason=reason)
        raise Invalid(INVALID_CREDENTIALS)
    with db.transaction():
        users_repo.touch_last_login(conn, user["id"])
        security.settle_login_attempt(conn, attempt, success=True, user_id=user["id"])
    return jsonify({"user": UserSchema().dump(user), "token": auth.issue_token(user)})
