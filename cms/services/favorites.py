"""Favorites: the car ids a user keeps, toggled one at a time."""

from __future__ import annotations

from psycopg import Connection

from cms.errors import Conflict, NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import favorites as favorites_repo
from cms.services.access import Caller


def car_ids(conn: Connection, caller: Caller) -> list[int]:
    return favorites_repo.list_car_ids(conn, caller.id)


def toggle(conn: Connection, caller: Caller, car_id: int) -> dict:
    """Add the car to the caller's favorites, or remove it: {status: added|removed, favorites}."""
    try:
        with conn.transaction():
            if not cars_repo.car_exists(conn, car_id):
                raise NotFound("Car not found")
            status = favorites_repo.toggle(conn, caller.id, car_id)
            favorites = favorites_repo.list_car_ids(conn, caller.id)
    except favorites_repo.ToggleContention:
        raise Conflict("This favorite is being changed by another request; please try again") from None
    return {"status": status, "favorites": favorites}
