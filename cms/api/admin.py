"""Admin console: users, sellers, the audit log and the sales report (/api/admin, admin only).

Car listing and approval (/api/admin/cars) live in cms.api.admin_cars; the rules in
cms.services.admin.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from cms import db
from cms.api.context import bcrypt_rounds, caller, client
from cms.api.declare import ADMIN, declare
from cms.schemas.admin import (
    ActionsPageSchema,
    ActionsQuerySchema,
    CreateSellerSchema,
    CreateUserSchema,
    SalesReportSchema,
    SellerCreatedSchema,
    UpdateUserSchema,
)
from cms.schemas.users import UserListItemSchema, UserSchema
from cms.services import admin as admin_service
from cms.services import reports as reports_service
from cms.services import users as users_service

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

TEMPORARY_PASSWORD_NOTE = (
    "This temporary password is shown only once: give it to the seller securely "
    "and ask them to change it after their first login."
)
_SELLER_CREATED = SellerCreatedSchema()


@bp.get("/users")
@declare("Every user", auth=ADMIN, response=UserListItemSchema(many=True))
def list_users():
    return users_service.list_users(db.connection())


@bp.post("/users")
@declare("Create a user of any role", auth=ADMIN, body=CreateUserSchema, response=UserSchema, idempotent=True)
def create_user(body):
    return admin_service.create_user(db.connection(), caller(), body, bcrypt_rounds=bcrypt_rounds())


@bp.post("/sellers")
@declare("Create a seller (password generated when empty)", auth=ADMIN, body=CreateSellerSchema,
         response=SellerCreatedSchema, status=201, idempotent=True)
def create_seller(body):
    seller, temporary_password = admin_service.create_seller(db.connection(), caller(), body,
                                                             bcrypt_rounds=bcrypt_rounds())
    answer = {"message": "Seller account created", "seller": seller}
    if temporary_password is not None:
        answer["temporaryPassword"] = temporary_password
        answer["note"] = TEMPORARY_PASSWORD_NOTE
    response = jsonify(_SELLER_CREATED.dump(answer))
    response.headers["Cache-Control"] = "no-store"  # it may carry a password
    return response, 201


@bp.patch("/users/<id:user_id>")
@declare("Activate, deactivate, change role or contact fields", auth=ADMIN, body=UpdateUserSchema,
         response=UserSchema)
def update_user(user_id: int, body):
    return admin_service.update_user(db.connection(), caller(), client(), user_id, body)


@bp.get("/actions")
@declare("The audit log, newest first", auth=ADMIN, query=ActionsQuerySchema, response=ActionsPageSchema)
def list_actions(query):
    actions, total = admin_service.list_actions(db.connection(), query)
    return {"actions": actions, "pagination": {"limit": query["limit"], "offset": query["offset"], "total": total}}


@bp.get("/reports/sales")
@declare("Sales report from real orders", auth=ADMIN, response=SalesReportSchema)
def sales_report():
    return reports_service.sales_report(db.connection())
