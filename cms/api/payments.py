"""Payments (/api/payments): checkout, payment confirmation, the buyer's orders.

Checkout and confirmation lock the car row (cms/services/orders.py), so a car is
sold at most once however many buyers race for it.
"""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller, runtime_settings
from cms.api.declare import SIGNED_IN, declare
from cms.schemas.orders import CheckoutSchema, ConfirmPaymentSchema, OrderResultSchema, OrderWithCarSchema
from cms.services import orders as orders_service

bp = Blueprint("payments", __name__, url_prefix="/api/payments")


@bp.post("/checkout")
@declare("Order an available car (buyers only)", auth=("user",), forbidden="Only buyers can purchase vehicles",
         body=CheckoutSchema, response=OrderResultSchema, errors=(404, 409), idempotent=True)
def checkout(body):
    return {"message": "Order created", "order": orders_service.checkout(db.connection(), caller(), body["car_id"])}


@bp.post("/confirm-payment")
@declare("Pay for the caller's pending order", auth=SIGNED_IN, body=ConfirmPaymentSchema,
         response=OrderResultSchema, errors=(404, 409), idempotent=True)
def confirm_payment(body):
    order = orders_service.confirm_payment(db.connection(), caller(), body["order_id"])
    return {"message": "Payment confirmed", "order": order}


@bp.get("/my-orders")
@declare("The caller's orders with their car", auth=SIGNED_IN, response=OrderWithCarSchema(many=True))
def my_orders():
    return orders_service.orders_of_buyer(db.connection(), caller(), runtime=runtime_settings())
