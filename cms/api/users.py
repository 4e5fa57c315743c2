"""GET/PATCH /api/users/profile and GET /api/users (admin)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from cms import db
from cms.api.context import caller
from cms.api.declare import ADMIN, SIGNED_IN, declare
from cms.schemas.users import ProfileSchema, ProfileUpdateSchema, UserListItemSchema, UserSchema
from cms.services import users as users_service

bp = Blueprint("users", __name__, url_prefix="/api/users")


@bp.get("/profile")
@declare("The caller's profile", auth=SIGNED_IN, response=ProfileSchema)
def get_profile():
    return current_user.row


@bp.patch("/profile")
@declare("Change name, phone, address or avatar", auth=SIGNED_IN, body=ProfileUpdateSchema, response=UserSchema,
         body_kwargs=lambda: {"profile": ProfileSchema().dump(current_user.row)})
def update_profile(body):
    return users_service.update_profile(db.connection(), caller(), body)


@bp.get("")
@declare("Every user", auth=ADMIN, response=UserListItemSchema(many=True))
def list_users():
    return users_service.list_users(db.connection())
