"""Services are plain functions over a connection: called here with no Flask app or request.

The api layer hands them the caller, the run-time settings and the base URL; these tests do
the same with a direct connection and check the rules that every route shares: the one
ownership rule, the one audit function, and prices computed before any schema sees a car.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from flask import has_app_context

from cms.errors import Forbidden, NotFound
from cms.services import audit, cars, images, orders
from cms.services import settings as settings_service
from cms.services.access import may_manage


@dataclass
class Caller:
    id: int
    role: str
    name: str = "Someone"


def as_caller(row: dict) -> Caller:
    return Caller(id=row["id"], role=row["role"], name=row["name"])


def audit_rows(sql):
    return sql.execute("SELECT admin_id, action_type, target_id, details FROM admin_actions ORDER BY id").fetchall()


def test_one_ownership_rule_for_sellers_and_admins():
    assert may_manage(Caller(7, "seller"), 7)
    assert not may_manage(Caller(7, "seller"), 8)
    assert not may_manage(Caller(7, "seller"), None)
    assert may_manage(Caller(1, "admin"), 8) and may_manage(Caller(1, "admin"), None)


def test_every_area_refuses_another_sellers_car_the_same_way(sql, factory):
    owner, other = factory.user("seller"), factory.user("seller")
    car = factory.car(owner)
    assert not has_app_context()

    with pytest.raises(Forbidden, match="^Forbidden$"):
        cars.update_car(sql, as_caller(other), car["id"], {"title": "Mine now"}, runtime=None)
    with pytest.raises(Forbidden, match="^Forbidden$"):
        images.delete_image(sql, as_caller(other), car["id"], 1)
    with pytest.raises(Forbidden, match="This car belongs to another seller"):
        orders.set_inventory_status(sql, as_caller(other), car["id"], "reserved", runtime=None)
    with pytest.raises(NotFound):
        cars.delete_car(sql, as_caller(other), car["id"] + 1000)

    assert sql.execute("SELECT title, status FROM cars WHERE id = %s", (car["id"],)).fetchone() == {
        "title": car["title"], "status": "available"}


def test_the_audit_function_records_admins_only_and_never_a_secret(sql, factory):
    admin, seller = factory.user("admin"), factory.user("seller")

    with sql.transaction():
        audit.record(sql, as_caller(seller), "update_order", 5, {"status": "paid"})
        audit.record(sql, as_caller(admin), "create_user", 9, {"email": "a@example.com", "password": "x",
                                                                 "temporaryPassword": "y", "password_hash": "z"})

    assert audit_rows(sql) == [{"admin_id": admin["id"], "action_type": "create_user", "target_id": 9,
                                "details": {"email": "a@example.com"}}]


def test_an_admin_writing_through_a_shared_service_is_audited_in_the_same_transaction(sql, factory):
    admin, seller = factory.user("admin"), factory.user("seller")
    car = factory.car(seller)

    orders.set_inventory_status(sql, as_caller(seller), car["id"], "reserved", runtime=None)
    orders.set_inventory_status(sql, as_caller(admin), car["id"], "available", runtime=None)

    assert audit_rows(sql) == [{"admin_id": admin["id"], "action_type": "update_inventory_status",
                                "target_id": car["id"], "details": {"status": "available"}}]


def test_cars_leave_the_services_priced_while_a_discount_is_active(sql, factory):
    seller = factory.user("seller")
    car = factory.car(seller, price=20000)
    sql.execute("UPDATE settings SET discount_percent = 12.5, discount_label = NULL")
    runtime = settings_service.load(sql)

    shown = cars.get_car(sql, car["id"], runtime=runtime, base_url="https://cms.example.com")
    page = cars.list_cars(sql, {"limit": 10}, runtime=runtime, base_url="https://cms.example.com")
    row = next(page.rows)

    assert (shown["price"], shown["original_price"], shown["discount_label"]) == (
        Decimal("17500.00"), Decimal("20000.00"), "12.5% off")
    assert [row[page.columns[name]] for name in ("price", "original_price", "discount_label")] == [
        Decimal("17500.00"), Decimal("20000.00"), "12.5% off"]
    sql.execute("UPDATE settings SET discount_percent = 0")
    plain = cars.get_car(sql, car["id"], runtime=settings_service.load(sql), base_url="")
    assert plain["price"] == Decimal("20000.00") and "original_price" not in plain
