"""Favorites: a user's favorite cars (favorites table, unique per user and car)."""

from __future__ import annotations

from psycopg import Connection

from cms.db import fetch_all, fetch_one, query

FAVORITES_LIST_CAR_IDS = query("favorites_list_car_ids")
FAVORITES_LOCK_PAIR = query("favorites_lock_pair")
FAVORITES_REMOVE = query("favorites_remove")
FAVORITES_ADD = query("favorites_add")

# Under the pair lock a toggle finishes in one round; the extra rounds only matter
# if some other writer changes favorites without taking that lock.
MAX_TOGGLE_ROUNDS = 3


class ToggleContention(Exception):
    """Concurrent toggles kept changing the favorite; the caller may retry."""



def list_car_ids(conn: Connection, user_id: int) -> list[int]:
    return [row["car_id"] for row in fetch_all(conn, FAVORITES_LIST_CAR_IDS, {"user_id": user_id})]


def toggle(conn: Connection, user_id: int, car_id: int) -> str:
    """Flip one favorite and return "added" or "removed"; call it inside a transaction.

    Toggles of the same (user, car) pair wait for each other (an advisory lock
    held until commit), then each makes exactly one change: a DELETE that found
    the row or an INSERT that added it. So N concurrent toggles all succeed and
    leave the favorite present exactly when N is odd. The INSERT's ON CONFLICT
    and the loop keep this true even against a writer that skips the lock.
    """
    params = {"user_id": user_id, "car_id": car_id}
    fetch_one(conn, FAVORITES_LOCK_PAIR, params)
    for _ in range(MAX_TOGGLE_ROUNDS):
        if fetch_one(conn, FAVORITES_REMOVE, params) is not None:
            return "removed"
        if fetch_one(conn, FAVORITES_ADD, params) is not None:
            return "added"
    raise ToggleContention(f"favorite of user {user_id} for car {car_id} kept changing")
