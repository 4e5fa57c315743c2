"""Notifications to the team's Telegram chat (new inquiries, confirmed payments).

Handlers call `queue_inquiry_created` / `queue_payment_confirmed` inside the
transaction that makes the change: the message is a row of the outbox
(cms/services/outbox.py), so it exists exactly when the change does, a
request is never delayed by Telegram, and nothing is lost when a process
dies. Delivery is done by outbox workers: `cms outbox-worker`, and (unless
NOTIFICATIONS_WORKER_THREAD=false) one background thread per web process when
Telegram is configured (started by create_app through cms.services.outbox.start_worker_thread);
without configuration, one warning at start-up and the messages wait in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from psycopg import Connection

from cms.repositories import outbox as outbox_repo

log = logging.getLogger(__name__)

TELEGRAM_MAX_TEXT = 4096
MESSAGE_EXCERPT = 500


# --- messages ---------------------------------------------------------------------

def _field(obj: Any, name: str) -> Any:
    """A value from a row (dict) or an object (e.g. the current user)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _person(user: Any) -> str:
    name = (_field(user, "name") or "").strip() or "Someone"
    email = (_field(user, "email") or "").strip()
    user_id = _field(user, "id")
    label = f"{name} <{email}>" if email else name
    return f"{label} (user #{user_id})" if user_id is not None else label


def _car(car: Any) -> str:
    title = (_field(car, "title") or "").strip() or "Untitled car"
    return f'"{title}" (car #{_field(car, "id")})'


def _money(value: Any) -> str:
    if value is None:
        return "an unknown price"
    try:
        return f"${Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def inquiry_message(inquiry: Any, car: Any, buyer: Any) -> str:
    """The text announcing a new inquiry: the car, the buyer, the request."""
    kind = "Test drive request" if _field(inquiry, "type") == "test_drive" else "New inquiry"
    lines = [f"{kind} #{_field(inquiry, 'id')} for {_car(car)}", f"From: {_person(buyer)}"]
    requested = _field(inquiry, "requested_date")
    if requested:
        lines.append(f"Requested date: {requested}")
    message = (_field(inquiry, "message") or "").strip()
    if len(message) > MESSAGE_EXCERPT:
        message = message[:MESSAGE_EXCERPT] + "…"
    lines.append(f"Message: {message}")
    return "\n".join(lines)


def payment_message(order: Any, car: Any, buyer: Any) -> str:
    """The text announcing a confirmed payment."""
    return "\n".join([
        f"Payment confirmed: order #{_field(order, 'id')}",
        f"Car: {_car(car)}",
        f"Buyer: {_person(buyer)}",
        f"Amount: {_money(_field(order, 'final_price'))}",
    ])


def queue_inquiry_created(conn: Connection, inquiry: Any, car: Any, buyer: Any) -> int:
    """Queue the announcement of a new inquiry, in the inquiry's transaction."""
    return outbox_repo.enqueue(conn, "inquiry_created", inquiry_message(inquiry, car, buyer)[:TELEGRAM_MAX_TEXT])


def queue_payment_confirmed(conn: Connection, order: Any, car: Any, buyer: Any) -> int:
    """Queue the announcement of a confirmed payment, in the payment's transaction.

    `order`, `car` and `buyer` are rows (dicts with column names: order id and
    final_price, car id and title, buyer id, name and email) or objects with
    those attributes (e.g. flask_login's current_user).
    """
    return outbox_repo.enqueue(conn, "payment_confirmed", payment_message(order, car, buyer)[:TELEGRAM_MAX_TEXT])


def recent(conn: Connection, *, limit: int, offset: int) -> list[dict]:
    """The outbox, newest first (admin)."""
    return outbox_repo.list_recent(conn, limit, offset)
