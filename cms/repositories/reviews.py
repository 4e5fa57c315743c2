"""Reviews: one rating and comment per user and car (reviews_one_per_user_and_car)."""

from __future__ import annotations

from psycopg import Connection

from cms.db import fetch_all, fetch_one, query

REVIEWS_LIST_FOR_CAR = query("reviews_list_for_car")
REVIEWS_UPSERT = query("reviews_upsert")



def list_for_car(conn: Connection, car_id: int) -> list[dict]:
    """The car's reviews, newest first, each with a non-null user_name."""
    return fetch_all(conn, REVIEWS_LIST_FOR_CAR, {"car_id": car_id})


def upsert_review(conn: Connection, *, car_id: int, user_id: int, user_name: str, rating: int,
                  comment: str) -> dict:
    """Write the user's review of the car; a second one replaces the first (same id and created_at)."""
    return fetch_one(conn, REVIEWS_UPSERT, {
        "car_id": car_id, "user_id": user_id, "user_name": user_name, "rating": rating, "comment": comment,
    })
