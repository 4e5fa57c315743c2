"""Admin console, sales report: GET /api/admin/reports/sales, computed from real orders."""

from __future__ import annotations

import pytest

REPORT = "/api/admin/reports/sales"


def order(factory, car, buyer, status, final_price, updated_at="2024-05-01 10:00:00", seller_id="car"):
    if status in ("paid", "completed"):  # the database keeps the car of a sale sold
        factory.conn.execute("UPDATE cars SET status = 'sold' WHERE id = %s", (car["id"],))
    return factory.row(
        "orders", car_id=car["id"], buyer_id=buyer["id"] if buyer else None,
        seller_id=car["seller_id"] if seller_id == "car" else seller_id,
        final_price=final_price, status=status, documents=[], created_at="2024-04-01 10:00:00",
        updated_at=updated_at,
    )


def test_an_empty_marketplace_reports_zeros(client, factory):
    admin = factory.user("admin")
    response = client.get(REPORT, headers=factory.headers(admin))
    assert response.status_code == 200
    assert response.get_json() == {
        "totalRevenue": 0, "totalSales": 0, "sellerPerformance": [], "recentTransactions": [],
    }


def test_the_report_counts_only_paid_and_completed_orders(client, factory, sql):
    admin = factory.user("admin")
    alice = factory.user("seller", name="Alice")
    bob = factory.user("seller", name="Bob")
    idle = factory.user("seller", name="Idle Ida")
    buyer = factory.user("user", name="Bea Buyer")
    alice_cars = [factory.car(alice, title=f"Alice car {i}") for i in range(3)]
    bob_car = factory.car(bob, title="Bob car")
    order(factory, alice_cars[0], buyer, "paid", "10000.50", "2024-05-01 10:00:00")
    order(factory, alice_cars[1], buyer, "completed", "20000.25", "2024-05-03 10:00:00")
    paid_bob = order(factory, bob_car, buyer, "paid", "5000.00", "2024-05-02 10:00:00")
    for status in ("draft", "pending", "pending_payment", "cancelled"):
        order(factory, alice_cars[2], buyer, status, "99999.00")

    response = client.get(REPORT, headers=factory.headers(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert body["totalSales"] == 3
    assert body["totalRevenue"] == 35000.75
    assert isinstance(body["totalRevenue"], float)
    assert body["sellerPerformance"] == [
        {"sellerId": alice["id"], "name": "Alice", "sales": 2, "revenue": 30000.75, "listings": 3},
        {"sellerId": bob["id"], "name": "Bob", "sales": 1, "revenue": 5000, "listings": 1},
        {"sellerId": idle["id"], "name": "Idle Ida", "sales": 0, "revenue": 0, "listings": 0},
    ]
    transactions = body["recentTransactions"]
    assert [t["car"] for t in transactions] == ["Alice car 1", "Bob car", "Alice car 0"]
    assert transactions[1] == {
        "id": paid_bob["id"], "car": "Bob car", "price": 5000, "date": "2024-05-02T10:00:00.000Z",
        "buyer": "Bea Buyer", "carId": bob_car["id"], "buyerId": buyer["id"], "status": "paid",
    }


def test_recent_transactions_are_the_newest_ten(client, factory):
    admin = factory.user("admin")
    seller = factory.user("seller")
    buyer = factory.user("user")
    orders = [order(factory, factory.car(seller), buyer, "completed", 1000 + day, f"2024-05-{day:02d} 10:00:00")
              for day in range(1, 13)]

    body = client.get(REPORT, headers=factory.headers(admin)).get_json()

    assert [t["id"] for t in body["recentTransactions"]] == [o["id"] for o in reversed(orders)][:10]
    assert body["totalSales"] == 12
    assert body["totalRevenue"] == sum(1000 + day for day in range(1, 13))
    assert body["sellerPerformance"][0]["listings"] == 12


def test_an_admin_with_listings_appears_among_sellers(client, factory):
    admin = factory.user("admin", name="Ada Admin")
    buyer = factory.user("user")
    car = factory.car(admin, title="Admin car")
    order(factory, car, buyer, "paid", 700)

    body = client.get(REPORT, headers=factory.headers(admin)).get_json()

    assert body["sellerPerformance"] == [
        {"sellerId": admin["id"], "name": "Ada Admin", "sales": 1, "revenue": 700, "listings": 1},
    ]


def test_the_report_needs_a_token(client):
    response = client.get(REPORT)
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


@pytest.mark.parametrize("role", ["user", "seller"])
def test_the_report_is_forbidden_to_buyers_and_sellers(client, factory, role):
    caller = factory.user(role)
    response = client.get(REPORT, headers=factory.headers(caller))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
