"""POST /api/auth/register and /api/auth/login."""

from __future__ import annotations

import psycopg
from flask import Blueprint, jsonify

from cms import auth, db
from cms.errors import Invalid
from cms.repositories import users as users_repo
from cms.schemas.fields import load_json
from cms.schemas.users import LoginSchema, RegisterSchema, UserSchema

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
    return jsonify({"user": UserSchema().dump(user), "token": auth.issue_token(user)})


@bp.post("/login")
def login():
    body = load_json(LoginSchema())
    conn = db.connection()
    user = users_repo.find_user_for_login(conn, body["email"])
    password_ok = auth.check_password(body["password"], user["password_hash"] if user else _UNUSED_HASH)
    if user is None or not password_ok or not user["is_active"]:
        raise Invalid(INVALID_CREDENTIALS)
    users_repo.touch_last_login(conn, user["id"])
    return jsonify({"user": UserSchema().dump(user), "token": auth.issue_token(user)})
