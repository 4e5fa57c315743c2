"""Passwords (bcrypt), tokens (JWT HS256), the flask-login loader and role decorators."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable

import jwt
from flask import Flask, current_app, g, request
from flask_login import LoginManager, UserMixin, current_user, login_required

from cms import db
from cms.errors import Forbidden, Unauthorized
from cms.repositories import users as users_repo
from cms.services import passwords


class User(UserMixin):
    """The authenticated caller, loaded from the database on every request."""

    def __init__(self, row: dict):
        self.row = row
        self.id = row["id"]
        self.role = row["role"]
        self.email = row["email"]
        self.name = row["name"]

    @property
    def is_active(self) -> bool:
        return bool(self.row["is_active"])

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


# --- passwords ---------------------------------------------------------------------

def hash_password(password: str, rounds: int | None = None) -> str:
    """A bcrypt hash ($2b$) at the configured cost (cms.services.passwords)."""
    return passwords.hash_password(password, rounds or current_app.config["CMS_SETTINGS"].bcrypt_rounds)


check_password = passwords.check_password


# --- tokens ------------------------------------------------------------------------

class _AtobSafeEncoder(json.JSONEncoder):
    """JSON whose base64url form has no '-' or '_' (the frontend decodes it with atob)."""

    def encode(self, o):
        text = super().encode(o)
        return text.replace(">", "\\u003e").replace("?", "\\u003f").replace("~", "\\u007e")


def issue_token(user: dict) -> str:
    """A JWT carrying only id, role, email, iat and exp."""
    settings = current_app.config["CMS_SETTINGS"]
    now = dt.datetime.now(dt.UTC)
    payload = {
        "id": int(user["id"]),
        "role": user["role"],
        "email": user["email"],
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + settings.jwt_expires_in,
    }
    return jwt.encode(payload, settings.jwt_secret, algorithm="HS256", json_encoder=_AtobSafeEncoder)


def decode_token(token: str) -> dict | None:
    """The token's payload, or None when it is forged, malformed or expired."""
    settings = current_app.config["CMS_SETTINGS"]
    try:
        payload = jwt.decode(
            token, settings.jwt_secret, algorithms=["HS256"], options={"require": ["id", "exp", "iat"]}
        )
    except jwt.PyJWTError:
        return None
    user_id = payload.get("id")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        return None
    return payload


# --- flask-login -------------------------------------------------------------------

login_manager = LoginManager()


@login_manager.request_loader
def load_user_from_request(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header.strip():
        g.auth_error = "No token"
        return None
    if scheme.lower() != "bearer" or not token.strip():
        g.auth_error = "Invalid token"
        return None
    payload = decode_token(token.strip())
    if payload is None:
        g.auth_error = "Invalid token"
        return None
    # The primary, also in a handler that reads from replicas: whether the account is still active,
    # and where its last write is (a replica serves this user only once it has replayed that).
    row = users_repo.get_user(db.primary_connection(), payload["id"])
    if row is None:
        g.auth_error = "Invalid token"
        return None
    if not row["is_active"]:
        g.auth_error = "Account is deactivated"
        return None
    db.note_user(row["id"], row["last_write_lsn"])
    return User(row)


@login_manager.unauthorized_handler
def unauthorized():
    raise Unauthorized(g.get("auth_error") or "No token")


def roles_required(*roles: str, message: str = "Forbidden") -> Callable:
    """Only authenticated callers with one of these roles; others get 401 or 403 (with `message`)."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(*roles):
                raise Forbidden(message)
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorator


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    # cms.db asks for the caller before it picks a replica (read-your-writes, see db.replica_reads).
    app.extensions["cms.load_user"] = lambda: current_user.is_authenticated
    # flask-login refuses inactive users by itself; let the loader explain instead.
    app.config.setdefault("LOGIN_DISABLED", False)


def caller_ip() -> str:
    """The client's address: the peer, or what TRUSTED_PROXIES trusted proxies said (ProxyFix).

    X-Forwarded-For itself is never read here: a client can write anything into it."""
    return request.remote_addr or ""
