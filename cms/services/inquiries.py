"""Inquiries: a buyer asks about a car (the seller is notified), the seller answers or closes it."""

from __future__ import annotations

from psycopg import Connection

from cms.errors import NotFound
from cms.repositories import inquiries as inquiries_repo
from cms.services import audit, notifications
from cms.services.access import Caller, ensure_may_manage, is_admin


def list_mine(conn: Connection, caller: Caller) -> list[dict]:
    """The caller's own inquiries."""
    return inquiries_repo.list_for_user(conn, caller.id)


def create(conn: Connection, caller: Caller, *, car_id: int, message: str, type: str,
           requested_date) -> dict:
    """A new open inquiry addressed to the car's seller, and its announcement, in one transaction."""
    with conn.transaction():
        car = inquiries_repo.find_car(conn, car_id)
        if car is None:
            raise NotFound("Car not found")
        inquiry = inquiries_repo.insert_inquiry(
            conn, car_id=car["id"], user_id=caller.id, seller_id=car["seller_id"],
            message=message, type=type, requested_date=requested_date,
        )
        # Same transaction: the announcement exists exactly when the inquiry does.
        notifications.queue_inquiry_created(conn, inquiry, car, caller.row)
    return inquiry


def list_for_seller(conn: Connection, caller: Caller) -> list[dict]:
    """Inquiries addressed to the caller (an admin's: all)."""
    return inquiries_repo.list_for_seller(conn, None if is_admin(caller) else caller.id)


def update_status(conn: Connection, caller: Caller, inquiry_id: int, changes: dict) -> dict:
    """Set the status (and the response text, when given) of an inquiry addressed to the caller
    (an admin's: any); audited for admins. Ownership is checked under the lock, before writing."""
    with conn.transaction():
        inquiry = inquiries_repo.lock_inquiry(conn, inquiry_id)
        if inquiry is None:
            raise NotFound("Inquiry not found")
        ensure_may_manage(caller, inquiry["seller_id"])
        updated = inquiries_repo.update_status(
            conn, inquiry_id, changes["status"],
            set_response="response" in changes, response=changes.get("response"),
        )
        audit.record(conn, caller, "update_inquiry", inquiry_id, {"status": changes["status"]})
    return updated
