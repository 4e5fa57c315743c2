"""PATCH /api/seller/inventory/:id/status: a seller's sale status of an approved listing."""

from __future__ import annotations

import re

import pytest

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CAR_KEYS = {"id", "title", "price", "description", "sellerId", "status", "brand", "model", "year", "fuelType",
            "image", "createdAt", "updatedAt"}


def car_row(sql, car_id):
    return sql.execute("SELECT * FROM cars WHERE id = %s", (car_id,)).fetchone()


def set_status(client, factory, user, car_id, status):
    return client.patch(f"/api/seller/inventory/{car_id}/status", headers=factory.headers(user),
                        json={"status": status})


@pytest.fixture
def seller(factory):
    return factory.user("seller")


@pytest.mark.parametrize(("current", "target"), [
    ("available", "reserved"), ("available", "sold"),
    ("reserved", "available"), ("reserved", "sold"),
])
def test_seller_changes_the_sale_status_of_their_approved_car(client, factory, seller, sql, current, target):
    car = factory.car(seller, status=current, title="Aura GT-S Concept", price=185000)

    response = set_status(client, factory, seller, car["id"], target)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == CAR_KEYS
    assert body["id"] == car["id"]
    assert body["status"] == target
    assert body["title"] == "Aura GT-S Concept"
    assert body["price"] == 185000
    assert body["sellerId"] == seller["id"]
    assert ISO_UTC.match(body["updatedAt"])
    assert car_row(sql, car["id"])["status"] == target


def test_setting_the_same_status_changes_nothing(client, factory, seller, sql):
    car = factory.car(seller, status="reserved")
    response = set_status(client, factory, seller, car["id"], "reserved")
    assert response.status_code == 200
    assert response.get_json()["status"] == "reserved"
    assert car_row(sql, car["id"])["updated_at"] == car["updated_at"]


def test_admin_changes_any_car(client, factory, seller, sql):
    car = factory.car(seller)
    response = set_status(client, factory, factory.user("admin"), car["id"], "reserved")
    assert response.status_code == 200
    assert car_row(sql, car["id"])["status"] == "reserved"


@pytest.mark.parametrize("listing", ["pending", "rejected"])
@pytest.mark.parametrize("target", ["available", "reserved", "sold"])
def test_an_unapproved_listing_cannot_be_put_on_sale_this_way(client, factory, seller, sql, listing, target):
    car = factory.car(seller, status=listing)

    response = set_status(client, factory, seller, car["id"], target)

    assert response.status_code == 409
    assert response.get_json() == {"error": f"This listing is {listing}: only an admin's approval puts it on sale"}
    assert car_row(sql, car["id"]) == car


def test_a_car_sold_through_an_order_cannot_go_back_on_sale(client, factory, seller, sql):
    car = factory.car(seller, status="sold")
    order = factory.row("orders", car_id=car["id"], buyer_id=factory.user("user")["id"], seller_id=seller["id"],
                        final_price=1, status="completed", documents=[])

    response = set_status(client, factory, seller, car["id"], "available")

    assert response.status_code == 409
    assert response.get_json() == {"error": f"This car was sold through order #{order['id']}; its status cannot change"}
    assert car_row(sql, car["id"])["status"] == "sold"
    assert set_status(client, factory, seller, car["id"], "sold").status_code == 200


@pytest.mark.parametrize("target", ["available", "reserved"])
def test_a_car_its_seller_marked_sold_is_read_only_to_that_seller(client, factory, seller, sql, target):
    """Issue 13: a sold car is read-only to its seller, also when no order sold it."""
    car = factory.car(seller, status="available")
    assert set_status(client, factory, seller, car["id"], "sold").status_code == 200

    response = set_status(client, factory, seller, car["id"], target)

    assert response.status_code == 409
    assert response.get_json() == {"error": "This car is sold: its listing can no longer be changed"}
    assert car_row(sql, car["id"])["status"] == "sold"


def test_an_admin_may_put_a_car_sold_without_an_order_back_on_sale(client, factory, seller, sql):
    car = factory.car(seller, status="sold")
    response = set_status(client, factory, factory.user("admin"), car["id"], "available")
    assert response.status_code == 200
    assert car_row(sql, car["id"])["status"] == "available"


def test_another_sellers_car_is_forbidden_and_unchanged(client, factory, seller, sql):
    car = factory.car(seller)
    response = set_status(client, factory, factory.user("seller"), car["id"], "sold")
    assert response.status_code == 403
    assert response.get_json() == {"error": "This car belongs to another seller"}
    assert car_row(sql, car["id"]) == car


def test_buyers_cannot_change_inventory(client, factory, seller, sql):
    car = factory.car(seller)
    response = set_status(client, factory, factory.user("user"), car["id"], "sold")
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
    assert car_row(sql, car["id"]) == car


def test_inventory_needs_a_token(client, factory, seller):
    car = factory.car(seller)
    response = client.patch(f"/api/seller/inventory/{car['id']}/status", json={"status": "sold"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


def test_an_unknown_car_is_404(client, factory, seller):
    response = set_status(client, factory, seller, 999999, "sold")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}


@pytest.mark.parametrize("path_id", ["abc", "0x1", "1e3", "2147483648"])
def test_a_non_numeric_or_out_of_range_car_id_is_400(client, factory, seller, path_id):
    response = set_status(client, factory, seller, path_id, "sold")
    assert response.status_code == 400
    assert "error" in response.get_json()


@pytest.mark.parametrize("body", [
    {"status": "pending"}, {"status": "rejected"}, {"status": "approved"}, {"status": "SOLD"},
    {"status": ""}, {"status": 5}, {"status": None}, {},
])
def test_other_status_values_are_400_and_change_nothing(client, factory, seller, sql, body):
    car = factory.car(seller)
    response = client.patch(f"/api/seller/inventory/{car['id']}/status", headers=factory.headers(seller), json=body)
    assert response.status_code == 400
    assert "status" in response.get_json()["details"]
    assert car_row(sql, car["id"]) == car
