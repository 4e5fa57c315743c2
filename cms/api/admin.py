"""Admin console: users, sellers, the audit log and the sales report (/api/admin, admin only).

Car listing and approval (/api/admin/cars) live in cms.api.admin_cars.

Decisions:
- POST /users: passwords of 8+ characters (at most 72 bytes, bcrypt's limit);
  a duplicate email, compared trimmed and case-insensitively, is a 400
  "Email already exists".
- PATCH /users/:id: an admin cannot deactivate or demote themself: 403 with a
  message saying so (the request is understood, the action is not allowed).
  Keys other than isActive, role, name, phone and address are a 400 and change
  nothing. Fields sent with the value they already have are not changes: when
  nothing changes, the user comes back as it is and no audit entry is written.
- Every write and its audit entry share one transaction.
"""

from __future__ import annotations

import psycopg
from flask import Blueprint, jsonify
from flask_login import current_user
from marshmallow import ValidationError

from cms import auth, db
from cms.errors import Forbidden, Invalid, NotFound
from cms.repositories import admin as admin_repo
from cms.repositories import users as users_repo
from cms.repositories.audit import record_admin_action
from cms.schemas.admin import (
    ActionsQuerySchema,
    AdminActionSchema,
    CreateSellerSchema,
    CreateUserSchema,
    SalesReportSchema,
    SellerSchema,
    UpdateUserSchema,
)
from cms.schemas.fields import load_json, load_query
from cms.schemas.users import UserListItemSchema, UserSchema
from cms.services import passwords, security

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

EMAIL_EXISTS = "Email already exists"
TEMPORARY_PASSWORD_NOTE = (
    "This temporary password is shown only once: give it to the seller securely "
    "and ask them to change it after their first login."
)
WEAK_PASSWORD = (
    "The password is too weak: use at least 8 characters with an upper-case letter, "
    f"a lower-case letter, a digit and one of {passwords.SYMBOLS}"
)
# Audit log keys of the fields PATCH /users/:id may change (camelCase, like the API).
AUDIT_KEYS = {"is_active": "isActive", "role": "role", "name": "name", "phone": "phone", "address": "address"}


@bp.get("/users")
@auth.roles_required("admin")
def list_users():
    return jsonify(UserListItemSchema(many=True).dump(users_repo.list_users(db.connection())))


@bp.post("/users")
@auth.roles_required("admin")
def create_user():
    try:
        body = load_json(CreateUserSchema())
    except ValidationError as error:
        if "role" in error.messages:
            raise Invalid("Invalid role", error.messages) from None
        raise
    user = _create_account(body, action_type="create_user", details={
        "name": body["name"], "email": body["email"], "role": body["role"],
    })
    return jsonify(UserSchema().dump(user))


@bp.post("/sellers")
@auth.roles_required("admin")
def create_seller():
    body = load_json(CreateSellerSchema())
    generated = body["password"] is None
    if generated:
        body["password"] = passwords.generate_password()
    else:
        problems = passwords.password_problems(body["password"])
        if problems:
            raise Invalid(WEAK_PASSWORD, {"password": problems})
    body["role"] = "seller"
    seller = _create_account(body, action_type="create_seller", details={
        "name": body["name"], "email": body["email"], "role": "seller",
        "phone": body["phone"], "address": body["address"], "generatedCredentials": generated,
    })
    answer = {"message": "Seller account created", "seller": SellerSchema().dump(seller)}
    if generated:
        answer["temporaryPassword"] = body["password"]
        answer["note"] = TEMPORARY_PASSWORD_NOTE
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"  # it may carry a password
    return response, 201


def _create_account(body: dict, *, action_type: str, details: dict) -> dict:
    """Insert the user and its audit entry in one transaction; a taken email is a 400."""
    password_hash = auth.hash_password(body["password"])
    try:
        with db.transaction() as conn:
            if users_repo.email_taken(conn, body["email"]):
                raise Invalid(EMAIL_EXISTS, {"email": ["An account already uses this email address."]})
            user = users_repo.insert_user(
                conn, name=body["name"], email=body["email"], password_hash=password_hash,
                role=body["role"], phone=body.get("phone"), address=body.get("address"),
            )
            record_admin_action(conn, admin_id=current_user.id, action_type=action_type,
                                target_id=user["id"], details=details)
    except psycopg.errors.UniqueViolation:  # the same email created concurrently
        raise Invalid(EMAIL_EXISTS, {"email": ["An account already uses this email address."]}) from None
    return user


@bp.patch("/users/<id:user_id>")
@auth.roles_required("admin")
def update_user(user_id: int):
    changes = _load_user_changes()
    caller_id = current_user.id
    if user_id == caller_id:
        _refuse_self_lockout(changes)
    with db.transaction() as conn:
        locked = admin_repo.lock_users(conn, [caller_id, user_id])
        caller = locked.get(caller_id)
        # Another admin may have demoted or deactivated the caller while we waited for the lock.
        if caller is None or caller["role"] != "admin" or not caller["is_active"]:
            raise Forbidden()
        target = locked.get(user_id)
        if target is None:
            raise NotFound("User not found")
        previous = {key: target[key] for key, value in changes.items() if target[key] != value}
        if not previous:
            return jsonify(UserSchema().dump(users_repo.get_user(conn, user_id)))
        user = admin_repo.update_user(conn, user_id, {key: changes[key] for key in previous})
        record_admin_action(conn, admin_id=caller_id, action_type="update_user", target_id=user_id, details={
            "email": target["email"],
            "changes": {AUDIT_KEYS[key]: changes[key] for key in previous},
            "previous": {AUDIT_KEYS[key]: value for key, value in previous.items()},
        })
        for key, event_type in (("role", "role_change"), ("is_active", "activation_change")):
            if key in previous:
                security.record(conn, event_type, user_id=user_id, email=target["email"], details={
                    "by": caller_id, "from": previous[key], "to": changes[key],
                })
    return jsonify(UserSchema().dump(user))


def _load_user_changes() -> dict:
    try:
        return load_json(UpdateUserSchema())
    except ValidationError as error:
        refused = sorted(key for key, messages in error.messages.items() if messages == ["Unknown field."])
        if refused:
            raise Invalid(
                f"These fields cannot be changed here: {', '.join(refused)} "
                "(allowed: isActive, role, name, phone, address)",
                error.messages,
            ) from None
        if set(error.messages) == {"_schema"}:
            raise Invalid("Nothing to change: send isActive, role, name, phone or address", error.messages) from None
        raise


def _refuse_self_lockout(changes: dict) -> None:
    if changes.get("is_active") is False:
        raise Forbidden("You cannot deactivate your own account")
    if "role" in changes and changes["role"] != "admin":
        raise Forbidden("You cannot change your own role; ask another admin")


@bp.get("/actions")
@auth.roles_required("admin")
def list_actions():
    params = load_query(ActionsQuerySchema())
    actions, total = admin_repo.list_actions(
        db.connection(),
        action_type=params["action_type"],
        created_from=params["created_from"],
        created_before=params["created_before"],
        limit=params["limit"],
        offset=params["offset"],
    )
    return jsonify({
        "actions": AdminActionSchema(many=True).dump(actions),
        "pagination": {"limit": params["limit"], "offset": params["offset"], "total": total},
    })


@bp.get("/reports/sales")
@auth.roles_required("admin")
def sales_report():
    conn = db.connection()
    totals = admin_repo.sales_totals(conn)
    return jsonify(SalesReportSchema().dump({
        "total_revenue": totals["total_revenue"],
        "total_sales": totals["total_sales"],
        "seller_performance": admin_repo.seller_performance(conn),
        "recent_transactions": admin_repo.recent_transactions(conn),
    }))
