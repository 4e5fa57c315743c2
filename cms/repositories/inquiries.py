"""Inquiries: buyers' questions and test-drive requests, addressed to a car's seller."""

from __future__ import annotations

import datetime as dt

from psycopg import Connection

from cms.db import fetch_all, fetch_one, query

INQUIRIES_FIND_CAR = query("inquiries_find_car")
INQUIRIES_INSERT = query("inquiries_insert")
INQUIRIES_LIST_FOR_USER = query("inquiries_list_for_user")
INQUIRIES_LIST_FOR_SELLER = query("inquiries_list_for_seller")
INQUIRIES_LOCK = query("inquiries_lock")
INQUIRIES_UPDATE_STATUS = query("inquiries_update_status")


def find_car(conn: Connection, car_id: int) -> dict | None:
    """The car's id, seller_id and title, or None."""
    return fetch_one(conn, INQUIRIES_FIND_CAR, {"car_id": car_id})


def insert_inquiry(conn: Connection, *, car_id: int, user_id: int, seller_id: int | None, message: str,
                   type: str, requested_date: dt.date | None) -> dict:
    return fetch_one(conn, INQUIRIES_INSERT, {
        "car_id": car_id, "user_id": user_id, "seller_id": seller_id, "message": message,
        "type": type, "requested_date": requested_date,
    })


def list_for_user(conn: Connection, user_id: int) -> list[dict]:
    return fetch_all(conn, INQUIRIES_LIST_FOR_USER, {"user_id": user_id})


def list_for_seller(conn: Connection, seller_id: int | None) -> list[dict]:
    """Inquiries addressed to the seller; None means every inquiry (admin)."""
    return fetch_all(conn, INQUIRIES_LIST_FOR_SELLER, {"seller_id": seller_id})


def lock_inquiry(conn: Connection, inquiry_id: int) -> dict | None:
    """The inquiry, locked FOR UPDATE until the transaction ends; call it inside one."""
    return fetch_one(conn, INQUIRIES_LOCK, {"id": inquiry_id})


def update_status(conn: Connection, inquiry_id: int, status: str, *, set_response: bool = False,
                  response: str | None = None) -> dict | None:
    """Set the status, and the response text when set_response is true."""
    return fetch_one(conn, INQUIRIES_UPDATE_STATUS, {
        "id": inquiry_id, "status": status, "set_response": set_response, "response": response,
    })
