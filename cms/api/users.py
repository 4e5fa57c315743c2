"""GET/PATCH /api/users/profile and GET /api/users (admin)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from cms import db
from cms.auth import roles_required
from cms.repositories import users as users_repo
from cms.schemas.fields import load_json
from cms.schemas.users import ProfileSchema, ProfileUpdateSchema, UserListItemSchema, UserSchema

bp = Blueprint("users", __name__, url_prefix="/api/users")


@bp.get("/profile")
@login_required
def get_profile():
    return jsonify(ProfileSchema().dump(current_user.row))


@bp.patch("/profile")
@login_required
def update_profile():
    changes = load_json(ProfileUpdateSchema())
    with db.transaction() as conn:
        user = users_repo.update_profile(conn, current_user.id, changes)
    return jsonify(UserSchema().dump(user))


@bp.get("")
@roles_required("admin")
def list_users():
    return jsonify(UserListItemSchema(many=True).dump(users_repo.list_users(db.connection())))
