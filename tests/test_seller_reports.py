"""GET /api/seller/reports: totals and weekly figures computed from real orders."""

from __future__ import annotations

import datetime as dt

import pytest

WEEKS = 12


def this_monday() -> dt.datetime:
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return (today - dt.timedelta(days=today.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def weeks_ago(weeks: int, hours: int = 1) -> dt.datetime:
    """A moment inside the week `weeks` weeks before this one."""
    return this_monday() - dt.timedelta(weeks=weeks) + dt.timedelta(hours=hours)


def sale(factory, seller, buyer, *, price, status="completed", created_at=None):
    car = factory.car(seller, status="sold")
    columns = {"created_at": created_at} if created_at else {}
    return factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                       final_price=price, status=status, documents=[], **columns)


def report(client, factory, user):
    response = client.get("/api/seller/reports", headers=factory.headers(user))
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def people(factory):
    return {"seller": factory.user("seller"), "other": factory.user("seller"), "buyer": factory.user("user")}


def test_report_counts_only_the_callers_paid_and_completed_orders(client, factory, people):
    seller, buyer = people["seller"], people["buyer"]
    sale(factory, seller, buyer, price="100.50", status="paid", created_at=weeks_ago(0))
    sale(factory, seller, buyer, price="200.25", status="completed", created_at=weeks_ago(0, hours=30))
    sale(factory, seller, buyer, price="1000", status="completed", created_at=weeks_ago(3))
    for status in ("draft", "pending", "pending_payment", "cancelled"):
        sale(factory, seller, buyer, price="5000", status=status, created_at=weeks_ago(0))
    sale(factory, people["other"], buyer, price="7777", status="completed", created_at=weeks_ago(0))

    body = report(client, factory, seller)

    assert set(body) == {"totalRevenue", "totalSales", "weeklyData"}
    assert body["totalSales"] == 3
    assert body["totalRevenue"] == 1300.75
    weekly = body["weeklyData"]
    assert len(weekly) == WEEKS
    assert all(set(week) == {"week", "sales", "revenue"} for week in weekly)
    assert weekly[-1] == {"week": this_monday().date().isoformat(), "sales": 2, "revenue": 300.75}
    assert weekly[-4] == {"week": (this_monday() - dt.timedelta(weeks=3)).date().isoformat(),
                          "sales": 1, "revenue": 1000}
    assert sum(w["sales"] for w in weekly) == 3


def test_weeks_are_consecutive_mondays_oldest_first_with_empty_weeks_as_zero(client, factory, people):
    body = report(client, factory, people["seller"])

    expected = [(this_monday() - dt.timedelta(weeks=WEEKS - 1 - i)).date().isoformat() for i in range(WEEKS)]
    assert [w["week"] for w in body["weeklyData"]] == expected
    assert all(w["sales"] == 0 and w["revenue"] == 0 for w in body["weeklyData"])
    assert body["totalSales"] == 0
    assert body["totalRevenue"] == 0


def test_sales_older_than_the_weekly_window_count_in_the_totals_only(client, factory, people):
    sale(factory, people["seller"], people["buyer"], price="500", created_at=weeks_ago(WEEKS))
    sale(factory, people["seller"], people["buyer"], price="250", created_at=weeks_ago(WEEKS - 1))

    body = report(client, factory, people["seller"])

    assert body["totalSales"] == 2
    assert body["totalRevenue"] == 750
    assert [w["sales"] for w in body["weeklyData"]] == [1] + [0] * (WEEKS - 1)
    assert body["weeklyData"][0]["revenue"] == 250


def test_admin_report_covers_every_seller(client, factory, people):
    sale(factory, people["seller"], people["buyer"], price="100", created_at=weeks_ago(1))
    sale(factory, people["other"], people["buyer"], price="50.5", status="paid", created_at=weeks_ago(1))

    body = report(client, factory, factory.user("admin"))

    assert body["totalSales"] == 2
    assert body["totalRevenue"] == 150.5
    assert body["weeklyData"][-2]["sales"] == 2


def test_a_sale_made_through_the_api_appears_in_the_report(client, factory, people):
    car = factory.car(people["seller"], price=74900)
    headers = factory.headers(people["buyer"])
    order = client.post("/api/payments/checkout", headers=headers, json={"carId": car["id"]}).get_json()["order"]
    paid = client.post("/api/payments/confirm-payment", headers=headers, json={"orderId": order["id"]})
    assert paid.status_code == 200

    body = report(client, factory, people["seller"])

    assert body["totalSales"] == 1
    assert body["totalRevenue"] == 74900
    assert body["weeklyData"][-1]["sales"] == 1
    assert body["weeklyData"][-1]["revenue"] == 74900


def test_report_needs_a_token(client):
    response = client.get("/api/seller/reports")
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


def test_buyers_cannot_read_seller_reports(client, factory, people):
    response = client.get("/api/seller/reports", headers=factory.headers(people["buyer"]))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
