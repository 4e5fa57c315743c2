"""Orders: the one state machine, selling a car at most once, checkout and payment, the seller's
workspace (orders, inventory status, the sales report).

Every public function takes the request's connection, opens the transaction itself and
raises cms.errors exceptions. Whatever can change a car's sale locks the car
row first and the order second (see sql/queries/orders.sql), so two requests
racing for one car queue on the car and the second sees what the first did.

Rules decided here (the contract leaves them open):
- Setting an order to the status it already has is a no-op (200), so a client
  may resend the status together with new documents.
- Paying an order, or completing one that was not paid, sells the car: the car
  must be `available` or `reserved` (a `pending` or `rejected` listing cannot
  be sold, 409), must not be sold already (409), becomes `sold`, and the car's
  other open orders (draft, pending, pending_payment) are cancelled in the same
  transaction: a car is sold once, so they can no longer succeed.
- A draft can be created for any of the seller's cars that is not sold; the
  buyer must be an existing user of any role (the old UI sends buyer id 1,
  the seed admin, when the seller leaves the field empty); finalPrice defaults
  to the car's price.
- A buyer's second checkout of a car returns their order still awaiting
  payment instead of opening another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from psycopg import Connection

from cms.errors import Conflict, Forbidden, Invalid, NotFound
from cms.repositories import orders as orders_repo
from cms.services import audit, listing_rules, notifications
from cms.services import settings as settings_service
from cms.services.access import Caller, ensure_may_manage, is_admin
from cms.services.settings import RuntimeSettings

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"pending", "completed", "cancelled"}),
    "pending": frozenset({"pending_payment", "completed", "cancelled"}),
    "pending_payment": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"completed"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
SALE_STATUSES = frozenset({"paid", "completed"})
SELLABLE_CAR_STATUSES = frozenset({"available", "reserved"})
UNAPPROVED_CAR_STATUSES = frozenset({"pending", "rejected"})

ALREADY_SOLD = "This car is already sold"
SOLD_TO_ANOTHER_BUYER = "This car has already been sold to another buyer; your order was cancelled"


class CarAlreadySold(Conflict):
    """The car of a sale is sold already (by another order, or marked sold by its seller)."""


@dataclass
class PaymentOutcome:
    """What confirm_payment did: the order and car as they are now, and the refusal to raise
    after the transaction has committed (the cancellation of a losing order must persist)."""

    order: dict
    car: dict | None
    refusal: Conflict | None = None


def can_transition(current: str, target: str) -> bool:
    """Whether the state machine allows current → target (same status excluded)."""
    return target in TRANSITIONS.get(current, frozenset())


def _sell_car(conn: Connection, car: dict | None, order: dict) -> dict:
    """Mark the (locked) car sold for this order and cancel its other open orders; returns the car."""
    if car is None:
        raise Conflict("This order is not linked to a car, so it cannot be paid or completed")
    if car["status"] == "sold" or orders_repo.sale_of_car(conn, car["id"], except_order_id=order["id"]):
        raise CarAlreadySold(ALREADY_SOLD)
    if car["status"] not in SELLABLE_CAR_STATUSES:
        raise Conflict(f"This car cannot be sold while its listing is {car['status']}")
    sold = orders_repo.set_car_status(conn, car["id"], "sold")
    orders_repo.cancel_other_open_orders(conn, car_id=car["id"], order_id=order["id"])
    return sold


def _illegal_transition(conn: Connection, order: dict, target: str) -> Conflict:
    if order["status"] == "cancelled" and order["car_id"] is not None:
        sale = orders_repo.sale_of_car(conn, order["car_id"], except_order_id=order["id"])
        if sale:
            return Conflict(f"This order was cancelled because the car was sold through order #{sale}")
    allowed = sorted(TRANSITIONS.get(order["status"], ()))
    hint = f"allowed next: {', '.join(allowed)}" if allowed else f"{order['status']} is final"
    return Conflict(f"An order cannot go from {order['status']} to {target} ({hint})")


# --- seller workspace --------------------------------------------------------------

def list_for_seller(conn: Connection, caller: Caller) -> list[dict]:
    """Orders of the caller's cars (an admin's: every order)."""
    return orders_repo.list_for_seller(conn, None if is_admin(caller) else caller.id)


def create_draft(conn: Connection, caller: Caller, *, car_id: int, buyer_id: int,
                 final_price: Decimal | None) -> dict:
    """A new draft order for the caller's car (an admin's: any car) and an existing buyer (audited for admins)."""
    with conn.transaction():
        order = _create_draft(conn, caller, car_id=car_id, buyer_id=buyer_id, final_price=final_price)
        audit.record(conn, caller, "create_order", order["id"],
                     {"carId": order["car_id"], "buyerId": order["buyer_id"]})
    return order


def _create_draft(conn: Connection, caller: Caller, *, car_id: int, buyer_id: int,
                  final_price: Decimal | None) -> dict:
    car = orders_repo.lock_car(conn, car_id)
    if car is None:
        raise NotFound("Car not found")
    ensure_may_manage(caller, car["seller_id"], "You can only create orders for your own cars")
    if not orders_repo.user_exists(conn, buyer_id):
        raise NotFound("Buyer not found")
    listing_rules.ensure_not_own_car(car, buyer_id)
    if car["status"] == "sold" or orders_repo.sale_of_car(conn, car_id):
        raise Conflict(ALREADY_SOLD)
    # Without a negotiated price, the draft takes the price buyers are shown (after any global discount).
    price = final_price if final_price is not None else \
        settings_service.load(conn).discounted(car["price"])
    if price is None:
        raise Invalid("Invalid input: finalPrice", {"finalPrice": ["Required: this car has no price."]})
    return orders_repo.insert_order(
        conn, car_id=car_id, buyer_id=buyer_id, seller_id=car["seller_id"], final_price=price, status="draft",
    )


def update_order(conn: Connection, caller: Caller, order_id: int, changes: dict) -> dict:
    """Apply `changes` (status through the state machine, and/or documents: the whole new list,
    None for none) to an order of the caller's cars (an admin's: any); audited for admins."""
    if "status" not in changes and "documents" not in changes:
        raise Invalid("Nothing to change: send status and/or documents", {"status": ["Send status and/or documents."]})
    with conn.transaction():
        order = _update_order(conn, caller, order_id, status=changes.get("status"),
                              documents=changes.get("documents"), set_documents="documents" in changes)
        audit.record(conn, caller, "update_order", order_id, {
            "status": changes.get("status"),
            "documents": len(changes["documents"] or []) if "documents" in changes else None,
        })
    return order


def _update_order(conn: Connection, caller: Caller, order_id: int, *, status: str | None,
                  documents: list | None, set_documents: bool) -> dict:
    found = orders_repo.get_order(conn, order_id)
    if found is None:
        raise NotFound("Order not found")
    ensure_may_manage(caller, found["seller_id"], "This order belongs to another seller")

    car = orders_repo.lock_car(conn, found["car_id"]) if found["car_id"] is not None else None
    order = orders_repo.lock_order(conn, order_id)
    if order is None:
        raise NotFound("Order not found")

    new_status = status if status is not None and status != order["status"] else None
    if new_status is not None:
        if not can_transition(order["status"], new_status):
            raise _illegal_transition(conn, order, new_status)
        if new_status in SALE_STATUSES:
            if order["status"] in SALE_STATUSES:
                # paid → completed: this order sold the car already; keep it sold.
                if car is not None and car["status"] != "sold":
                    orders_repo.set_car_status(conn, car["id"], "sold")
            else:
                _sell_car(conn, car, order)

    if new_status is None and not set_documents:
        return order
    return orders_repo.update_order(
        conn, order_id, status=new_status, documents=documents or [], set_documents=set_documents,
    )


def set_inventory_status(conn: Connection, caller: Caller, car_id: int, status: str, *,
                         runtime: RuntimeSettings | None) -> dict:
    """available / reserved / sold for an approved listing of the caller (an admin's: any); audited
    for admins. Returns the car as buyers see it."""
    with conn.transaction():
        car = _set_inventory_status(conn, caller, car_id, status)
        audit.record(conn, caller, "update_inventory_status", car_id, {"status": status})
    return settings_service.priced(car, runtime)


def _set_inventory_status(conn: Connection, caller: Caller, car_id: int, status: str) -> dict:
    """A sold car stays sold: for good once an order sold it, and to its seller also when they
    marked it sold themselves (an admin may correct that)."""
    car = orders_repo.lock_car(conn, car_id)
    if car is None:
        raise NotFound("Car not found")
    ensure_may_manage(caller, car["seller_id"], "This car belongs to another seller")
    if car["status"] in UNAPPROVED_CAR_STATUSES:
        raise Conflict(
            f"This listing is {car['status']}: only an admin's approval puts it on sale"
        )
    if status == car["status"]:
        return car
    sale = orders_repo.sale_of_car(conn, car_id)
    if sale and status != "sold":
        raise Conflict(f"This car was sold through order #{sale}; its status cannot change")
    listing_rules.ensure_seller_may_change(car, is_admin=is_admin(caller))
    return orders_repo.set_car_status(conn, car_id, status)


# --- payments ----------------------------------------------------------------------

def checkout(conn: Connection, caller: Caller, car_id: int) -> dict:
    """An order awaiting payment for an available car, at the price the buyer is shown."""
    with conn.transaction():
        return _checkout(conn, buyer_id=caller.id, car_id=car_id)


def _checkout(conn: Connection, *, buyer_id: int, car_id: int) -> dict:
    car = orders_repo.lock_car(conn, car_id)
    # A deactivated seller's listings are hidden from every public read: to a buyer they do not exist.
    # The car's lock orders this against a deactivation, which writes the car's seller_active.
    if car is None or not car["seller_active"]:
        raise NotFound("Car not found")
    if car["status"] != "available":
        raise Invalid("Car already sold or not available")
    listing_rules.ensure_not_own_car(car, buyer_id)
    existing = orders_repo.find_pending_checkout(conn, buyer_id=buyer_id, car_id=car_id)
    if existing is not None:
        return existing
    if car["price"] is None:
        raise Invalid("This car has no price and cannot be bought online")
    # Charge what the buyer was shown: the price after the admin's global discount, if one is active.
    price = settings_service.load(conn).discounted(car["price"])
    return orders_repo.insert_order(
        conn, car_id=car_id, buyer_id=buyer_id, seller_id=car["seller_id"],
        final_price=price, status="pending_payment",
    )


def confirm_payment(conn: Connection, caller: Caller, order_id: int) -> dict:
    """Pay the caller's pending_payment order: order → paid and car → sold, and the announcement
    queued, in one transaction. When the car was sold meanwhile, the order is cancelled (that
    commits) and then a 409 is raised."""
    with conn.transaction():
        outcome = _confirm_payment(conn, caller, order_id)
        if outcome.refusal is None:
            notifications.queue_payment_confirmed(conn, outcome.order, outcome.car, caller.row)
    if outcome.refusal is not None:
        raise outcome.refusal  # after commit: the losing order stays cancelled
    return outcome.order


def _confirm_payment(conn: Connection, caller: Caller, order_id: int) -> PaymentOutcome:
    found = orders_repo.get_order(conn, order_id)
    if found is None:
        raise NotFound("Order not found")
    if found["buyer_id"] != caller.id:
        raise Forbidden("This order belongs to another buyer")

    car = orders_repo.lock_car(conn, found["car_id"]) if found["car_id"] is not None else None
    order = orders_repo.lock_order(conn, order_id)
    if order is None:
        raise NotFound("Order not found")

    if order["status"] != "pending_payment":
        if order["status"] in SALE_STATUSES:
            raise Conflict("This order is already paid")
        if order["status"] == "cancelled" and car is not None and (
            car["status"] == "sold" or orders_repo.sale_of_car(conn, car["id"], except_order_id=order["id"])
        ):
            raise Conflict(SOLD_TO_ANOTHER_BUYER)
        raise Conflict(f"Only an order awaiting payment can be confirmed; this one is {order['status']}")

    try:
        car = _sell_car(conn, car, order)
    except CarAlreadySold:
        cancelled = orders_repo.update_order(conn, order_id, status="cancelled")
        return PaymentOutcome(order=cancelled, car=car, refusal=Conflict(SOLD_TO_ANOTHER_BUYER))
    paid = orders_repo.update_order(conn, order_id, status="paid")
    return PaymentOutcome(order=paid, car=car)


def orders_of_buyer(conn: Connection, caller: Caller, *, runtime: RuntimeSettings | None) -> list[dict]:
    """The caller's orders as buyer, newest first, each with its car as buyers see it (or None)."""
    orders = orders_repo.list_for_buyer_with_car(conn, caller.id)
    for order in orders:
        order["car"] = settings_service.priced(order["car"], runtime)
    return orders
