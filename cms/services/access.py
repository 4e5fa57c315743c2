"""Who may change what: the one ownership rule of every service.

`caller` is the authenticated user as the api layer passes it in (anything with `id` and
`role`, e.g. flask-login's current user): services never read request state themselves.
"""

from __future__ import annotations

from typing import Protocol

from cms.errors import Forbidden, NotFound
from cms.services import listing_rules


class Caller(Protocol):
    id: int
    role: str


def is_admin(caller: Caller | None) -> bool:
    return caller is not None and caller.role == "admin"


def may_manage(caller: Caller, owner_id: int | None) -> bool:
    """An admin manages everything; anyone else only what they own."""
    return is_admin(caller) or (owner_id is not None and owner_id == caller.id)


def ensure_may_manage(caller: Caller, owner_id: int | None, message: str = "Forbidden") -> None:
    """403 (with `message`) unless the caller may manage a thing owned by `owner_id`."""
    if not may_manage(caller, owner_id):
        raise Forbidden(message)


def managed_car(caller: Caller, car: dict | None) -> dict:
    """The car when the caller may change it: 404 for an unknown car, 403 for another seller's,
    409 for a seller's sold car (listing_rules). Every write to a listing (fields, images,
    removal) goes through here."""
    if car is None:
        raise NotFound()
    ensure_may_manage(caller, car["seller_id"])
    listing_rules.ensure_seller_may_change(car, is_admin=is_admin(caller))
    return car
