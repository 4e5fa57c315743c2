"""Who is calling: flask-login loads the user from the `Authorization: Bearer` token on every
request (from the primary: a deactivated account stops at once), and `roles_required` guards views."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask, g
from flask_login import LoginManager, UserMixin, current_user, login_required

from cms import db
from cms.api.tokens import decode_token
from cms.errors import Forbidden, Unauthorized
from cms.repositories import users as users_repo


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
