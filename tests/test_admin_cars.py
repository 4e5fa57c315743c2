"""Admin console, listings — GET /api/admin/cars and PATCH /api/admin/cars/:id/approval (audited)."""

from __future__ import annotations

import pytest

from cms.services import audit

CAR_FIELDS = {
    "id", "title", "price", "description", "sellerId", "status", "brand", "model", "year", "fuelType",
    "image", "createdAt", "updatedAt",
}


def audit_rows(sql):
    return sql.execute(
        "SELECT admin_id, action_type, target_id, details FROM admin_actions ORDER BY id"
    ).fetchall()


# --- GET /api/admin/cars -------------------------------------------------------------

def test_admin_lists_every_car_with_primary_image_and_rejection_reason(client, factory):
    seller = factory.user("seller")
    pending = factory.car(seller, status="pending")
    rejected = factory.car(seller, status="rejected", rejection_reason="Blurry photos")
    image = factory.row("car_images", car_id=pending["id"], image_url="/images/car1.png", is_primary=True,
                        display_order=0)

    response = client.get("/api/admin/cars", headers=factory.headers(factory.user("admin")))

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    cars = {car["id"]: car for car in response.get_json()}
    assert set(cars) == {pending["id"], rejected["id"]}
    assert set(cars[pending["id"]]) == CAR_FIELDS | {"primaryImage", "rejectionReason"}
    assert cars[pending["id"]]["primaryImage"]["id"] == image["id"]
    assert cars[pending["id"]]["primaryImage"]["imageUrl"] == "/images/car1.png"
    assert cars[rejected["id"]]["primaryImage"] is None
    assert cars[rejected["id"]]["rejectionReason"] == "Blurry photos"
    assert cars[pending["id"]]["rejectionReason"] is None


def test_admin_list_takes_the_same_filters_as_the_public_list(client, factory):
    seller = factory.user("seller")
    pending = factory.car(seller, status="pending")
    factory.car(seller, status="available")

    response = client.get("/api/admin/cars?status=pending", headers=factory.headers(factory.user("admin")))

    assert [car["id"] for car in response.get_json()] == [pending["id"]]
    assert client.get("/api/admin/cars?limit=0", headers=factory.headers(factory.user("admin"))).status_code == 400


@pytest.mark.parametrize("role", ["seller", "user"])
def test_admin_list_is_forbidden_to_other_roles(client, factory, role):
    response = client.get("/api/admin/cars", headers=factory.headers(factory.user(role)))

    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}


def test_admin_list_without_a_token_is_a_401(client):
    response = client.get("/api/admin/cars")

    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


# --- PATCH /api/admin/cars/:id/approval ----------------------------------------------

@pytest.mark.parametrize("status", ["approved", "available"])
def test_approval_puts_a_listing_on_sale_and_is_audited(client, factory, sql, status):
    admin = factory.user("admin")
    car = factory.car(factory.user("seller"), status="pending", title="Aura GT-S Concept")

    response = client.patch(f"/api/admin/cars/{car['id']}/approval", json={"status": status},
                            headers=factory.headers(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == CAR_FIELDS | {"rejectionReason"}
    assert (body["id"], body["status"], body["rejectionReason"]) == (car["id"], "available", None)
    assert body["sellerId"] == car["seller_id"]
    assert sql.execute("SELECT status FROM cars WHERE id = %s", (car["id"],)).fetchone()["status"] == "available"
    [action] = audit_rows(sql)
    assert (action["admin_id"], action["action_type"], action["target_id"]) == (admin["id"], "approve_car", car["id"])
    assert action["details"]["previousStatus"] == "pending"
    assert action["details"]["status"] == "available"
    assert action["details"]["carTitle"] == "Aura GT-S Concept"


def test_rejection_stores_the_reason_and_approval_clears_it(client, factory, sql):
    admin = factory.user("admin")
    car = factory.car(factory.user("seller"), status="pending")
    url = f"/api/admin/cars/{car['id']}/approval"

    rejected = client.patch(url, json={"status": "rejected", "rejectionReason": "  Photos missing "},
                            headers=factory.headers(admin))

    assert rejected.status_code == 200
    assert (rejected.get_json()["status"], rejected.get_json()["rejectionReason"]) == ("rejected", "Photos missing")
    row = sql.execute("SELECT status, rejection_reason FROM cars WHERE id = %s", (car["id"],)).fetchone()
    assert (row["status"], row["rejection_reason"]) == ("rejected", "Photos missing")

    approved = client.patch(url, json={"status": "approved", "rejectionReason": "ignored"},
                            headers=factory.headers(admin))

    assert (approved.get_json()["status"], approved.get_json()["rejectionReason"]) == ("available", None)
    row = sql.execute("SELECT status, rejection_reason FROM cars WHERE id = %s", (car["id"],)).fetchone()
    assert (row["status"], row["rejection_reason"]) == ("available", None)
    actions = audit_rows(sql)
    assert [a["action_type"] for a in actions] == ["reject_car", "approve_car"]
    assert actions[0]["details"]["rejectionReason"] == "Photos missing"


def test_rejection_without_a_reason_is_allowed(client, factory, sql):
    car = factory.car(factory.user("seller"), status="pending")

    response = client.patch(f"/api/admin/cars/{car['id']}/approval", json={"status": "rejected"},
                            headers=factory.headers(factory.user("admin")))

    assert response.status_code == 200
    assert response.get_json()["rejectionReason"] is None


def test_invalid_approval_bodies_are_a_400_and_change_nothing(client, factory, sql, subtests):
    car = factory.car(factory.user("seller"), status="pending")
    headers = factory.headers(factory.user("admin"))
    for body in ({"status": "sold"}, {"status": "reserved"}, {"status": "pending"}, {"status": "APPROVED"},
                 {"status": None}, {"status": 1}, {}, {"rejectionReason": "x"},
                 {"status": "rejected", "rejectionReason": "x" * 2001}, {"status": "rejected", "rejectionReason": 5}):
        with subtests.test(body=str(body)[:60]):
            response = client.patch(f"/api/admin/cars/{car['id']}/approval", json=body, headers=headers)

            assert response.status_code == 400
            assert "error" in response.get_json()
    assert sql.execute("SELECT status FROM cars WHERE id = %s", (car["id"],)).fetchone()["status"] == "pending"
    assert audit_rows(sql) == []


def test_a_sold_car_cannot_be_approved_or_rejected(client, factory, sql):
    car = factory.car(factory.user("seller"), status="sold")

    response = client.patch(f"/api/admin/cars/{car['id']}/approval", json={"status": "approved"},
                            headers=factory.headers(factory.user("admin")))

    assert response.status_code == 409
    assert "sold" in response.get_json()["error"]
    assert sql.execute("SELECT status FROM cars WHERE id = %s", (car["id"],)).fetchone()["status"] == "sold"
    assert audit_rows(sql) == []


def test_approval_of_an_unknown_car_is_a_404_and_a_bad_id_a_400(client, factory, sql):
    headers = factory.headers(factory.user("admin"))

    missing = client.patch("/api/admin/cars/999/approval", json={"status": "approved"}, headers=headers)
    bad = client.patch("/api/admin/cars/abc/approval", json={"status": "approved"}, headers=headers)

    assert (missing.status_code, missing.get_json()) == (404, {"error": "Not found"})
    assert bad.status_code == 400
    assert audit_rows(sql) == []


@pytest.mark.parametrize("role", ["seller", "user"])
def test_approval_is_forbidden_to_other_roles_even_the_cars_seller(client, factory, sql, role):
    seller = factory.user("seller")
    car = factory.car(seller, status="pending")
    caller = seller if role == "seller" else factory.user(role)

    response = client.patch(f"/api/admin/cars/{car['id']}/approval", json={"status": "approved"},
                            headers=factory.headers(caller))

    assert response.status_code == 403
    assert sql.execute("SELECT status FROM cars WHERE id = %s", (car["id"],)).fetchone()["status"] == "pending"


def test_approval_without_a_token_is_a_401(client, factory):
    car = factory.car(factory.user("seller"), status="pending")

    assert client.patch(f"/api/admin/cars/{car['id']}/approval", json={"status": "approved"}).status_code == 401


def test_approval_and_its_audit_row_commit_together(client, factory, sql, monkeypatch):
    car = factory.car(factory.user("seller"), status="pending")

    def audit_fails(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit, "record", audit_fails)

    response = client.patch(f"/api/admin/cars/{car['id']}/approval", json={"status": "approved"},
                            headers=factory.headers(factory.user("admin")))

    assert response.status_code == 500
    assert sql.execute("SELECT status FROM cars WHERE id = %s", (car["id"],)).fetchone()["status"] == "pending"
