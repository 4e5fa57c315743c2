"""Timestamps whose offset pushes them outside years 1-9999 in UTC are a 400, not a 500."""

import pytest


@pytest.fixture
def admin(factory):
    return factory.user("admin")


@pytest.mark.parametrize("path", [
    "/api/admin/actions?startDate=0001-01-01T00:00:00%2B01:00",
    "/api/admin/security-log?startDate=0001-01-01T00:00:00%2B01:00",
    "/api/admin/actions?endDate=9999-12-31T23:00:00-05:00",
])
def test_out_of_range_filters_are_refused(client, factory, admin, path):
    response = client.get(path, headers=factory.headers(admin))
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_out_of_range_settings_dates_are_refused(client, factory, admin):
    response = client.put("/api/admin/settings", headers=factory.headers(admin),
                          json={"discountStartsAt": "0001-01-01T00:00:00+01:00"})
    assert response.status_code == 400
    assert response.get_json()["details"] == {"discountStartsAt": ["Not a valid datetime."]}


def test_out_of_range_document_dates_are_refused(client, factory):
    seller = factory.user("seller")
    car = factory.car(seller)
    order = factory.row("orders", car_id=car["id"], buyer_id=factory.user("user")["id"], seller_id=seller["id"],
                        final_price=100, status="draft")
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(seller), json={
        "documents": [{"name": "a", "url": "http://x.example/a.pdf", "uploadedAt": "9999-12-31T23:00:00-05:00"}]})
    assert response.status_code == 400
    assert "uploadedAt" in str(response.get_json()["details"])
