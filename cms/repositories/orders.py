"""Orders, the car rows a sale locks and changes, and the seller's sales report."""

from __future__ import annotations

from decimal import Decimal

from psycopg import Connection
from psycopg.types.json import Jsonb

from cms.db import fetch_all, fetch_one, fetch_value, query
from cms.repositories import cars as cars_repo

GET_ORDER = query("orders_get")
LOCK_ORDER = query("orders_lock")
LIST_FOR_SELLER = query("orders_list_for_seller")
LIST_FOR_BUYER_WITH_CAR = query("orders_list_for_buyer_with_car")
INSERT_ORDER = query("orders_insert")
UPDATE_ORDER = query("orders_update")
CANCEL_OTHER_OPEN_ORDERS = query("orders_cancel_other_open_orders")
SALE_OF_CAR = query("orders_sale_of_car")
FIND_PENDING_CHECKOUT = query("orders_find_pending_checkout")
USER_EXISTS = query("orders_user_exists")
REPORT_TOTALS = query("seller_report_totals")
REPORT_WEEKLY = query("seller_report_weekly")

CAR_PREFIX = "car__"


def get_order(conn: Connection, order_id: int) -> dict | None:
    return fetch_one(conn, GET_ORDER, {"id": order_id})


def lock_order(conn: Connection, order_id: int) -> dict | None:
    """The order, locked until the transaction ends (lock its car first)."""
    return fetch_one(conn, LOCK_ORDER, {"id": order_id})


def list_for_seller(conn: Connection, seller_id: int | None) -> list[dict]:
    """A seller's orders, newest first; every order when seller_id is None."""
    return fetch_all(conn, LIST_FOR_SELLER, {"seller_id": seller_id})


def list_for_buyer_with_car(conn: Connection, buyer_id: int) -> list[dict]:
    """A buyer's orders, newest first, each with its car under "car" (None when it has none)."""
    orders = []
    for row in fetch_all(conn, LIST_FOR_BUYER_WITH_CAR, {"buyer_id": buyer_id}):
        order = {k: v for k, v in row.items() if not k.startswith(CAR_PREFIX)}
        car = {k[len(CAR_PREFIX):]: v for k, v in row.items() if k.startswith(CAR_PREFIX)}
        order["car"] = car if car["id"] is not None else None
        orders.append(order)
    return orders


def insert_order(conn: Connection, *, car_id: int, buyer_id: int, seller_id: int | None,
                 final_price: Decimal | None, status: str) -> dict:
    order_id = fetch_value(conn, INSERT_ORDER, {
        "car_id": car_id, "buyer_id": buyer_id, "seller_id": seller_id,
        "final_price": final_price, "status": status,
    })
    return get_order(conn, order_id)


def update_order(conn: Connection, order_id: int, *, status: str | None = None,
                 documents: list | None = None, set_documents: bool = False) -> dict | None:
    """Change the status (None keeps it) and, when set_documents, replace the documents."""
    updated = fetch_value(conn, UPDATE_ORDER, {
        "id": order_id,
        "status": status,
        "set_documents": set_documents,
        "documents": Jsonb(documents if documents is not None else []),
    })
    return None if updated is None else get_order(conn, updated)


def cancel_other_open_orders(conn: Connection, *, car_id: int, order_id: int) -> list[int]:
    """Cancel the car's open orders except order_id; the ids cancelled."""
    return [row["id"] for row in fetch_all(conn, CANCEL_OTHER_OPEN_ORDERS, {"car_id": car_id, "order_id": order_id})]


def sale_of_car(conn: Connection, car_id: int, *, except_order_id: int | None = None) -> int | None:
    """Id of the car's paid or completed order (other than except_order_id), or None."""
    return fetch_value(conn, SALE_OF_CAR, {"car_id": car_id, "order_id": except_order_id})


def find_pending_checkout(conn: Connection, *, buyer_id: int, car_id: int) -> dict | None:
    return fetch_one(conn, FIND_PENDING_CHECKOUT, {"buyer_id": buyer_id, "car_id": car_id})


# The car lock and status change of a sale are the cars repository's (one query each for
# every write path); named here as the orders service calls them.
lock_car = cars_repo.lock_car
set_car_status = cars_repo.set_status


def user_exists(conn: Connection, user_id: int) -> bool:
    return bool(fetch_value(conn, USER_EXISTS, {"id": user_id}))


def report_totals(conn: Connection, seller_id: int | None) -> dict:
    """{total_sales, total_revenue} of paid and completed orders (everyone's when seller_id is None)."""
    return fetch_one(conn, REPORT_TOTALS, {"seller_id": seller_id})


def report_weekly(conn: Connection, seller_id: int | None, weeks: int) -> list[dict]:
    """[{week, sales, revenue}] for the last `weeks` weeks, oldest first, empty weeks included."""
    return fetch_all(conn, REPORT_WEEKLY, {"seller_id": seller_id, "weeks": weeks})

