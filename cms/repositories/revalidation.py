"""The database's change counter of what public reads show (data_version, migration 0035)."""

from __future__ import annotations

from psycopg import Connection

from cms.db import fetch_value, query

DATA_VERSION = query("data_version_current")


def data_version(conn: Connection) -> int:
    """The counter now: it grows with every statement that writes a car, an image, a review, the
    settings, or a user's name or activation (in the writing transaction)."""
    return int(fetch_value(conn, DATA_VERSION))
