"""Payments (/api/payments): checkout, payment confirmation, the buyer's orders.

Checkout and confirmation lock the car row (cms/services/orders.py), so a car is
sold at most once however many buyers race for it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from cms import db
from cms.errors import Forbidden
from cms.repositories import orders as orders_repo
from cms.schemas.fields import load_json
from cms.schemas.orders import CheckoutSchema, ConfirmPaymentSchema, OrderSchema, OrderWithCarSchema
from cms.services import notifications
from cms.services import orders as orders_service

bp = Blueprint("payments", __name__, url_prefix="/api/payments")


@bp.post("/checkout")
@login_required
def checkout():
    if current_user.role != "user":
        raise Forbidden("Only buyers can purchase vehicles")
    body = load_json(CheckoutSchema())
    with db.transaction() as conn:
        order = orders_service.checkout(conn, buyer_id=current_user.id, car_id=body["car_id"])
    return jsonify({"message": "Order created", "order": OrderSchema().dump(order)})


@bp.post("/confirm-payment")
@login_required
def confirm_payment():
    body = load_json(ConfirmPaymentSchema())
    with db.transaction() as conn:
        outcome = orders_service.confirm_payment(conn, buyer_id=current_user.id, order_id=body["order_id"])
        if outcome.refusal is None:
            notifications.queue_payment_confirmed(conn, outcome.order, outcome.car, current_user.row)
    if outcome.refusal is not None:
        raise outcome.refusal  # after commit: the losing order stays cancelled
    return jsonify({"message": "Payment confirmed", "order": OrderSchema().dump(outcome.order)})


@bp.get("/my-orders")
@login_required
def my_orders():
    orders = orders_repo.list_for_buyer_with_car(db.connection(), current_user.id)
    return jsonify(OrderWithCarSchema(many=True).dump(orders))

