"""Reviews: one per user and car; a second one by the same user replaces the first (same id)."""

from __future__ import annotations

from psycopg import Connection

from cms.errors import NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import reviews as reviews_repo
from cms.services import listing_rules
from cms.services.access import Caller


def list_for_car(conn: Connection, car_id: int) -> list[dict]:
    """The car's reviews; 404 for an unknown car or one of a deactivated seller (not listed)."""
    if not cars_repo.car_listed(conn, car_id):
        raise NotFound("Car not found")
    return reviews_repo.list_for_car(conn, car_id)


def write(conn: Connection, caller: Caller, *, car_id: int, rating: int, comment: str) -> dict:
    """The caller's review of a published car not their own (created, or the earlier one
    updated), under the caller's name."""
    with conn.transaction():
        listing_rules.ensure_reviewable(cars_repo.get_car(conn, car_id), caller.id)
        return reviews_repo.upsert_review(conn, car_id=car_id, user_id=caller.id, user_name=caller.name,
                                          rating=rating, comment=comment)
