"""The caller's token: a JWT (HS256) carrying id, role, email, iat and exp, signed with JWT_SECRET.

The legacy frontend reads the payload itself (atob of the middle part), so the JSON is written
without characters whose base64url form has '-' or '_'.
"""

from __future__ import annotations

import datetime as dt
import json

import jwt
from flask import current_app


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
