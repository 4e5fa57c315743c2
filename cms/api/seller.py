"""Seller workspace: orders, inventory status and the sales report (/api/seller).

The seller's inquiries live in cms/api/seller_inquiries.py. Every route is for
sellers and admins; a seller sees and changes only their own cars and orders,
an admin everyone's. The order state machine lives in cms/services/orders.py.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from cms import db
from cms.auth import roles_required
from cms.errors import Invalid
from cms.repositories import orders as orders_repo
from cms.schemas.cars import CarSchema
from cms.schemas.fields import load_json
from cms.schemas.orders import (
    InventoryStatusSchema,
    OrderCreateSchema,
    OrderSchema,
    OrderUpdateSchema,
    SellerReportSchema,
)
from cms.services import audit
from cms.services import orders as orders_service

bp = Blueprint("seller", __name__, url_prefix="/api/seller")


def _is_admin() -> bool:
    return current_user.role == "admin"


@bp.get("/orders")
@roles_required("seller", "admin")
def list_orders():
    seller_id = None if _is_admin() else current_user.id
    return jsonify(OrderSchema(many=True).dump(orders_repo.list_for_seller(db.connection(), seller_id)))


@bp.post("/orders")
@roles_required("seller", "admin")
def create_order():
    body = load_json(OrderCreateSchema())
    with db.transaction() as conn:
        order = orders_service.create_draft(
            conn, user_id=current_user.id, is_admin=_is_admin(),
            car_id=body["car_id"], buyer_id=body["buyer_id"], final_price=body["final_price"],
        )
        audit.record_if_admin(conn, "create_order", order["id"], {"carId": order["car_id"],
                                                                  "buyerId": order["buyer_id"]})
    return jsonify(OrderSchema().dump(order))


@bp.patch("/orders/<id:order_id>")
@roles_required("seller", "admin")
def update_order(order_id: int):
    body = load_json(OrderUpdateSchema())
    if "status" not in body and "documents" not in body:
        raise Invalid(
            "Nothing to change: send status and/or documents",
            {"status": ["Send status and/or documents."]},
        )
    with db.transaction() as conn:
        order = orders_service.update_order(
            conn, user_id=current_user.id, is_admin=_is_admin(), order_id=order_id,
            status=body.get("status"), documents=body.get("documents"), set_documents="documents" in body,
        )
        audit.record_if_admin(conn, "update_order", order_id, {
            "status": body.get("status"), "documents": len(body["documents"] or []) if "documents" in body else None,
        })
    return jsonify(OrderSchema().dump(order))


@bp.patch("/inventory/<id:car_id>/status")
@roles_required("seller", "admin")
def update_inventory_status(car_id: int):
    body = load_json(InventoryStatusSchema())
    with db.transaction() as conn:
        car = orders_service.set_inventory_status(
            conn, user_id=current_user.id, is_admin=_is_admin(), car_id=car_id, status=body["status"],
        )
        audit.record_if_admin(conn, "update_inventory_status", car_id, {"status": body["status"]})
    return jsonify(CarSchema().dump(car))


@bp.get("/reports")
@roles_required("seller", "admin")
def sales_report():
    seller_id = None if _is_admin() else current_user.id
    return jsonify(SellerReportSchema().dump(orders_service.seller_report(db.connection(), seller_id)))
