"""Users: lookups, creation, profile updates."""

from __future__ import annotations

from psycopg import Connection

from cms.db import execute, fetch_all, fetch_one, fetch_value, query

GET_USER = query("get_user")
FIND_USER_FOR_LOGIN = query("find_user_for_login")
EMAIL_TAKEN = query("email_taken")
INSERT_USER = query("insert_user")
TOUCH_LAST_LOGIN = query("touch_last_login")
UPDATE_PROFILE = query("update_profile")
LIST_USERS = query("list_users")


def get_user(conn: Connection, user_id: int) -> dict | None:
    return fetch_one(conn, GET_USER, {"id": user_id})


def find_user_for_login(conn: Connection, email: str, typed_email: str) -> dict | None:
    return fetch_one(conn, FIND_USER_FOR_LOGIN, {"email": email, "typed_email": typed_email})


def email_taken(conn: Connection, email: str) -> bool:
    return bool(fetch_value(conn, EMAIL_TAKEN, {"email": email}))


def insert_user(conn: Connection, *, name: str, email: str, password_hash: str, role: str,
                phone: str | None = None, address: str | None = None) -> dict:
    user_id = fetch_value(conn, INSERT_USER, {
        "name": name, "email": email, "password_hash": password_hash, "role": role,
        "phone": phone, "address": address,
    })
    return get_user(conn, user_id)


def touch_last_login(conn: Connection, user_id: int) -> None:
    execute(conn, TOUCH_LAST_LOGIN, {"id": user_id})


def update_profile(conn: Connection, user_id: int, changes: dict) -> dict | None:
    """Apply the keys present in `changes` (name, phone, address, avatar)."""
    return fetch_one(conn, UPDATE_PROFILE, {
        "id": user_id,
        "name": changes.get("name"),
        "set_phone": "phone" in changes, "phone": changes.get("phone"),
        "set_address": "address" in changes, "address": changes.get("address"),
        "set_avatar": "avatar" in changes, "avatar": changes.get("avatar"),
    })


def list_users(conn: Connection) -> list[dict]:
    return fetch_all(conn, LIST_USERS)
