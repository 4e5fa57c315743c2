"""Who may do what with a listing: who may see, change, sell or buy a car in each of its states.

Plain functions over a car row and the caller's id and role; no Flask, so services and
blueprints alike call them and a test can call them directly. Each raises a domain error.
"""

from __future__ import annotations

from cms.errors import Conflict, Forbidden, NotFound

# Listings anyone may look at and review: approved ones (available, reserved) and sold ones.
PUBLIC_CAR_STATUSES = ("available", "reserved", "sold")

SOLD_CAR_READ_ONLY = "This car is sold: its listing can no longer be changed"
OWN_CAR_PURCHASE = "You cannot buy your own car"
OWN_CAR_REVIEW = "You cannot review your own car"
NOT_PUBLIC_REVIEW = "Only a published listing can be reviewed"


def ensure_seller_may_change(car: dict, *, is_admin: bool) -> None:
    """409 when a seller edits, deletes or changes the images of their car once it is sold
    (what the buyer paid for stays as it was); an admin may still correct it."""
    if car["status"] == "sold" and not is_admin:
        raise Conflict(SOLD_CAR_READ_ONLY)


def ensure_not_own_car(car: dict, buyer_id: int) -> None:
    """409 when the buyer is the car's seller (e.g. a seller demoted to user, or a draft to oneself)."""
    if car["seller_id"] == buyer_id:
        raise Conflict(OWN_CAR_PURCHASE)


def ensure_reviewable(car: dict | None, reviewer_id: int) -> None:
    """404 for an unknown car, 409 for a listing not yet public, 403 for the reviewer's own car."""
    if car is None:
        raise NotFound("Car not found")
    if car["status"] not in PUBLIC_CAR_STATUSES:
        raise Conflict(NOT_PUBLIC_REVIEW)
    if car["seller_id"] == reviewer_id:
        raise Forbidden(OWN_CAR_REVIEW)
