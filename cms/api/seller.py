"""Seller workspace: orders, inventory status and the sales report (/api/seller).

The seller's inquiries live in cms/api/seller_inquiries.py. Every route is for
sellers and admins; a seller sees and changes only their own cars and orders,
an admin everyone's (cms/services/orders.py).
"""

from __future__ import annotations

from flask import Blueprint

from cms import db
from cms.api.context import caller, runtime_settings
from cms.api.declare import SELLER_OR_ADMIN, declare
from cms.schemas.cars import CarSchema
from cms.schemas.orders import (
    InventoryStatusSchema,
    OrderCreateSchema,
    OrderSchema,
    OrderUpdateSchema,
    SellerReportSchema,
)
from cms.services import orders as orders_service
from cms.services import reports as reports_service

bp = Blueprint("seller", __name__, url_prefix="/api/seller")


@bp.get("/orders")
@declare("Orders of the caller's cars (admin: all)", auth=SELLER_OR_ADMIN, response=OrderSchema(many=True))
def list_orders():
    return orders_service.list_for_seller(db.connection(), caller())


@bp.post("/orders")
@declare("A draft order for the caller's car", auth=SELLER_OR_ADMIN, body=OrderCreateSchema, response=OrderSchema,
         errors=(404, 409), idempotent=True)
def create_order(body):
    return orders_service.create_draft(db.connection(), caller(), car_id=body["car_id"], buyer_id=body["buyer_id"],
                                       final_price=body["final_price"])


@bp.patch("/orders/<id:order_id>")
@declare("Change an order's status or documents", auth=SELLER_OR_ADMIN, body=OrderUpdateSchema,
         response=OrderSchema, errors=(409,))
def update_order(order_id: int, body):
    return orders_service.update_order(db.connection(), caller(), order_id, body)


@bp.patch("/inventory/<id:car_id>/status")
@declare("Mark a listing available, reserved or sold", auth=SELLER_OR_ADMIN, body=InventoryStatusSchema,
         response=CarSchema, errors=(409,))
def update_inventory_status(car_id: int, body):
    return orders_service.set_inventory_status(db.connection(), caller(), car_id, body["status"],
                                               runtime=runtime_settings())


@bp.get("/reports")
@declare("Revenue and weekly sales from paid and completed orders", auth=SELLER_OR_ADMIN,
         response=SellerReportSchema)
def sales_report():
    return reports_service.seller_report(db.connection(), caller())
