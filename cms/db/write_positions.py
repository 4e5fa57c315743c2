"""After a signed-in user's write, the primary's WAL position is recorded for them, so that their
next reads, on any instance, use only a replica that has replayed that write (read-your-writes)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg
from flask import g, request
from psycopg_pool import PoolTimeout

from cms.db.queries import query
from cms.db.session import one_line

log = logging.getLogger(__name__)

# A request with another method, by a signed-in user, records the user's write position;
# reads of theirs then use only a replica that has replayed it.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MARK_USER_WRITE = query("mark_user_write")


def write_position_recorder(primary_connection: Callable[[], psycopg.Connection]) -> Callable:
    """The after-request hook that records the write position on `primary_connection()`."""

    def mark_user_write(response):
        """After a signed-in user's writing request: record the primary's WAL position for them, so that
        their next reads, on any instance, use only a replica that has replayed this write."""
        user_id = g.get("db_user_id")
        if user_id is None or request.method in SAFE_METHODS or response.status_code >= 400:
            return response
        try:
            primary_connection().execute(MARK_USER_WRITE.sql, {"user_id": user_id})
        except (psycopg.Error, PoolTimeout) as error:  # the write itself is done: answer it, say what was missed
            log.warning("could not record the write position of user %s: %s", user_id, one_line(error))
        return response

    return mark_user_write
