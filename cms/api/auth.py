"""POST /api/auth/register and /api/auth/login."""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import bcrypt_rounds, client
from cms.api.declare import PUBLIC, declare
from cms.api.tokens import issue_token
from cms.schemas.users import AuthResultSchema, LoginSchema, RegisterSchema
from cms.services import users as users_service

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


@bp.post("/register")
@declare("Register as a buyer or seller", auth=PUBLIC, body=RegisterSchema, response=AuthResultSchema,
         errors=(429,), idempotent=True)
def register(body):
    user = users_service.register(db.connection(), client(), bcrypt_rounds=bcrypt_rounds(), **body)
    return {"user": user, "token": issue_token(user)}


@bp.post("/login")
@declare("Log in", auth=PUBLIC, body=LoginSchema, response=AuthResultSchema, errors=(429,))
def login(body):
    user = users_service.login(db.connection(), client(), email=body["email"], password=body["password"],
                               typed_email=body["typed_email"])
    return {"user": user, "token": issue_token(user)}
