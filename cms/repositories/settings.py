"""The single settings row."""

from __future__ import annotations

from psycopg import Connection

from cms.db import fetch_one, query

GET_SETTINGS = query("get_settings")
LOCK_SETTINGS = query("lock_settings")
UPDATE_SETTINGS = query("update_settings")


def get_settings(conn: Connection) -> dict:
    return fetch_one(conn, GET_SETTINGS)


def lock_settings(conn: Connection) -> dict:
    return fetch_one(conn, LOCK_SETTINGS)


def update_settings(conn: Connection, values: dict, updated_by: int) -> dict:
    return fetch_one(conn, UPDATE_SETTINGS, {**values, "updated_by": updated_by})
