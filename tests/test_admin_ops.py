"""Admin operations: dashboard, settings (maintenance, discount), security log, seller performance."""

import datetime as dt

import pytest
from support.app import BAD_ID, error_of

from cms.services import settings as runtime_settings


@pytest.fixture
def admin(factory):
    return factory.user("admin")


@pytest.fixture
def no_settings_cache(monkeypatch):
    """Every request re-reads the settings row (as another instance would after CACHE_SECONDS)."""
    monkeypatch.setattr(runtime_settings, "CACHE_SECONDS", 0.0)


def _utc_now():
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize("path", [
    "/api/admin/dashboard", "/api/admin/settings", "/api/admin/security-log",
    "/api/admin/sellers/1/performance",
])
def test_admin_operations_refuse_anonymous_and_non_admins(client, factory, path):
    assert client.get(path).status_code == 401
    for role in ("user", "seller"):
        response = client.get(path, headers=factory.headers(factory.user(role)))
        assert response.status_code == 403
        assert response.get_json() == {"error": "Forbidden"}


def test_dashboard_counts_users_listings_and_sales_from_the_database(client, factory, admin):
    seller = factory.user("seller")
    buyer = factory.user("user")
    sold = factory.car(seller, status="sold")
    factory.car(seller, status="pending")
    factory.car(seller, status="pending")
    factory.car(seller, status="available")
    factory.row("orders", car_id=sold["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                final_price=1000, status="paid")
    old_car = factory.car(seller, status="sold")
    factory.row("orders", car_id=old_car["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                final_price=500, status="completed", created_at=_utc_now() - dt.timedelta(days=10))
    very_old = factory.car(seller, status="sold")
    factory.row("orders", car_id=very_old["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                final_price=700, status="completed", created_at=_utc_now() - dt.timedelta(days=40))
    factory.row("orders", car_id=very_old["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                final_price=900, status="cancelled")

    body = client.get("/api/admin/dashboard", headers=factory.headers(admin)).get_json()

    assert body["usersByRole"] == {"user": 1, "seller": 1, "admin": 1}
    assert body["totalUsers"] == 3
    assert body["pendingListings"] == 2
    assert body["listingsByStatus"] == {"sold": 3, "pending": 2, "available": 1}
    assert body["sales"]["today"] == {"count": 1, "revenue": 1000}
    assert body["sales"]["last30Days"] == {"count": 2, "revenue": 1500}


def test_settings_update_is_validated_audited_and_returned(client, factory, admin, sql):
    headers = factory.headers(admin)
    assert client.get("/api/admin/settings", headers=headers).get_json()["maintenanceEnabled"] is False

    response = client.put("/api/admin/settings", headers=headers, json={
        "discountPercent": 10, "discountLabel": "Winter sale",
    })
    assert response.status_code == 200
    body = response.get_json()
    assert body["discountPercent"] == 10
    assert body["discountLabel"] == "Winter sale"
    assert body["updatedBy"] == admin["id"]
    audit = sql.execute("SELECT action_type, admin_id, details FROM admin_actions").fetchall()
    assert audit == [{"action_type": "update_settings", "admin_id": admin["id"],
                      "details": {"discountPercent": 10, "discountLabel": "Winter sale"}}]


@pytest.mark.parametrize("body", [
    {"discountPercent": 95},
    {"discountPercent": -1},
    {"discountPercent": "lots"},
    {"maintenanceEnabled": "yes"},
    {"maintenanceMessage": ""},
    {"discountStartsAt": "2030-01-02", "discountEndsAt": "2030-01-01"},
    {"discountStartsAt": "not a date"},
    {"unknownSetting": 1},
])
def test_invalid_settings_are_refused_and_change_nothing(client, factory, admin, sql, body):
    response = client.put("/api/admin/settings", headers=factory.headers(admin), json=body)
    assert response.status_code == 400
    assert "error" in response.get_json()
    row = sql.execute("SELECT discount_percent, maintenance_enabled FROM settings").fetchone()
    assert row == {"discount_percent": 0, "maintenance_enabled": False}
    assert sql.execute("SELECT count(*) AS n FROM admin_actions").fetchone()["n"] == 0


def test_maintenance_mode_answers_503_to_everyone_but_admins_ping_and_login(
        client, factory, admin, no_settings_cache, sql):
    user = factory.user("user")
    sql.execute("UPDATE settings SET maintenance_enabled = true, maintenance_message = 'Back at noon'")

    refused = client.get("/api/users/profile", headers=factory.headers(user))
    assert refused.status_code == 503
    assert refused.get_json()["error"] == "Back at noon"
    assert client.get("/api/admin/dashboard").status_code == 503
    assert client.get("/ping").status_code == 200
    login = client.post("/api/auth/login", json={"email": admin["email"], "password": admin["password"]})
    assert login.status_code == 200
    assert client.get("/api/users/profile", headers=factory.headers(admin)).status_code == 200

    switch_off = client.put("/api/admin/settings", headers=factory.headers(admin),
                            json={"maintenanceEnabled": False})
    assert switch_off.status_code == 200
    assert client.get("/api/users/profile", headers=factory.headers(user)).status_code == 200


def test_a_settings_change_reaches_another_instance_without_restart(
        make_app, factory, admin, no_settings_cache):
    first, second = make_app().test_client(), make_app().test_client()
    user = factory.user("user")
    before = second.get("/api/users/profile", headers=factory.headers(user))
    assert (before.status_code, before.get_json()["email"]) == (200, user["email"])
    first.put("/api/admin/settings", headers=factory.headers(admin),
              json={"maintenanceEnabled": True, "maintenanceMessage": "Back at noon"})
    during = second.get("/api/users/profile", headers=factory.headers(user))
    assert (during.status_code, error_of(during)) == (503, "Back at noon")


def test_security_log_lists_events_newest_first_with_filters_and_paging(client, factory, admin, sql):
    now = _utc_now()
    for minutes, event, email in [(30, "login_failure", "a@example.com"), (20, "login_success", "a@example.com"),
                                  (10, "register", "b@example.com")]:
        factory.row("auth_events", event_type=event, email=email, ip="10.0.0.1", user_agent="UA",
                    occurred_at=now - dt.timedelta(minutes=minutes))
    headers = factory.headers(admin)

    body = client.get("/api/admin/security-log", headers=headers).get_json()
    assert [e["eventType"] for e in body["events"]] == ["register", "login_success", "login_failure"]
    first = body["events"][0]
    assert set(first) == {"id", "time", "eventType", "userId", "email", "ip", "userAgent", "details", "count",
                          "lastTime"}
    assert (first["count"], first["lastTime"]) == (1, None)  # one event; refusals are counted (test_login_throttle)
    assert first["time"].endswith("Z")
    assert body["pagination"] == {"limit": 50, "offset": 0, "total": 3}

    by_email = client.get("/api/admin/security-log?email=A@example.com", headers=headers).get_json()
    assert [e["eventType"] for e in by_email["events"]] == ["login_success", "login_failure"]
    by_type = client.get("/api/admin/security-log?eventType=register", headers=headers).get_json()
    assert [e["email"] for e in by_type["events"]] == ["b@example.com"]
    paged = client.get("/api/admin/security-log?limit=1&offset=1", headers=headers).get_json()
    assert [e["eventType"] for e in paged["events"]] == ["login_success"]
    assert paged["pagination"] == {"limit": 1, "offset": 1, "total": 3}


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "eventType=bogus",
                                   "startDate=yesterday", "startDate=2030-01-02&endDate=2030-01-01"])
def test_security_log_refuses_bad_filters(client, factory, admin, query):
    response = client.get(f"/api/admin/security-log?{query}", headers=factory.headers(admin))
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_seller_performance_counts_listings_approval_and_sales(client, factory, admin):
    seller = factory.user("seller", name="Sally")
    buyer = factory.user("user")
    sold = factory.car(seller, status="sold")
    factory.car(seller, status="available")
    factory.car(seller, status="rejected")
    factory.car(seller, status="pending")
    factory.row("orders", car_id=sold["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                final_price=1234.5, status="paid")

    response = client.get(f"/api/admin/sellers/{seller['id']}/performance?months=3",
                          headers=factory.headers(admin))
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Sally"
    assert body["totalListings"] == 4
    assert body["approvedListings"] == 2
    assert body["approvalRate"] == 0.5
    assert body["salesCount"] == 1
    assert body["salesValue"] == 1234.5
    assert len(body["monthly"]) == 3
    this_month = body["monthly"][-1]
    assert this_month == {"month": _utc_now().strftime("%Y-%m"), "listings": 4, "sales": 1, "revenue": 1234.5}


def test_seller_performance_of_unknown_or_non_seller_is_404_and_bad_id_400(client, factory, admin):
    headers = factory.headers(admin)
    buyer = factory.user("user")
    def answer(path):
        response = client.get(path, headers=headers)
        return response.status_code, error_of(response)

    assert answer("/api/admin/sellers/999999/performance") == (404, "Seller not found")
    assert answer(f"/api/admin/sellers/{buyer['id']}/performance") == (404, "Seller not found")
    assert answer("/api/admin/sellers/abc/performance") == (400, BAD_ID)
    assert answer("/api/admin/sellers/1/performance?months=0") == (400, "Invalid input: months")


def test_recent_notifications_lists_outbox_rows_newest_first(client, factory, admin):
    factory.row("notification_outbox", kind="test", message="first")
    factory.row("notification_outbox", kind="test", message="second", status="sent", attempts=1,
                telegram_message_id=77)
    response = client.get("/api/admin/notifications?limit=10", headers=factory.headers(admin))
    assert response.status_code == 200
    body = response.get_json()
    assert [n["message"] for n in body["notifications"]] == ["second", "first"]
    assert body["notifications"][0]["status"] == "sent"
    assert body["notifications"][0]["telegramMessageId"] == 77
    assert body["pagination"] == {"limit": 10, "offset": 0}
    assert client.get("/api/admin/notifications", headers=factory.headers(factory.user("user"))).status_code == 403


def test_role_and_activation_changes_land_in_the_security_log(client, factory, admin, sql):
    target = factory.user("user", email="target@example.com")
    headers = {**factory.headers(admin), "User-Agent": "AdminConsole/1.0"}
    assert client.patch(f"/api/admin/users/{target['id']}", headers=headers, json={"role": "seller"}).status_code == 200
    assert client.patch(f"/api/admin/users/{target['id']}", headers=headers,
                        json={"isActive": False}).status_code == 200
    events = sql.execute(
        "SELECT event_type, user_id, email, user_agent, details FROM auth_events ORDER BY id").fetchall()
    assert events == [
        {"event_type": "role_change", "user_id": target["id"], "email": "target@example.com",
         "user_agent": "AdminConsole/1.0", "details": {"by": admin["id"], "from": "user", "to": "seller"}},
        {"event_type": "activation_change", "user_id": target["id"], "email": "target@example.com",
         "user_agent": "AdminConsole/1.0", "details": {"by": admin["id"], "from": True, "to": False}},
    ]


def test_an_active_discount_lowers_car_prices_and_what_checkout_charges(client, factory, admin, no_settings_cache):
    seller = factory.user("seller")
    buyer = factory.user("user")
    car = factory.car(seller, price=20000)
    response = client.put("/api/admin/settings", headers=factory.headers(admin),
                          json={"discountPercent": 12.5, "discountLabel": "Spring sale"})
    assert response.status_code == 200

    [listed] = client.get("/api/cars").get_json()
    assert (listed["price"], listed["originalPrice"], listed["discountLabel"]) == (17500, 20000, "Spring sale")
    detail = client.get(f"/api/cars/{car['id']}").get_json()
    assert (detail["price"], detail["originalPrice"]) == (17500, 20000)

    order = client.post("/api/payments/checkout", headers=factory.headers(buyer), json={"carId": car["id"]})
    assert order.status_code == 200
    assert order.get_json()["order"]["finalPrice"] == 17500


def test_a_discount_outside_its_dates_changes_no_price(client, factory, admin, no_settings_cache, sql):
    seller = factory.user("seller")
    buyer = factory.user("user")
    car = factory.car(seller, price=20000)
    sql.execute("UPDATE settings SET discount_percent = 50,"
                " discount_ends_at = now() AT TIME ZONE 'utc' - interval '1 day'")
    [listed] = client.get("/api/cars").get_json()
    assert listed["price"] == 20000
    assert "originalPrice" not in listed and "discountLabel" not in listed
    order = client.post("/api/payments/checkout", headers=factory.headers(buyer), json={"carId": car["id"]})
    assert order.get_json()["order"]["finalPrice"] == 20000


def test_saving_an_edit_form_during_a_discount_keeps_the_base_price(client, factory, admin, no_settings_cache, sql):
    seller = factory.user("seller")
    car = factory.car(seller, price=10000)
    client.put("/api/admin/settings", headers=factory.headers(admin), json={"discountPercent": 10})
    shown = client.get(f"/api/cars/{car['id']}").get_json()
    assert shown["price"] == 9000
    form = {key: shown[key] for key in ("title", "price", "description", "brand", "model", "year", "fuelType")}
    form["description"] = "Now with winter tyres"
    saved = client.put(f"/api/cars/{car['id']}", headers=factory.headers(seller), json=form)
    assert saved.status_code == 200
    assert saved.get_json()["price"] == 9000 and saved.get_json()["originalPrice"] == 10000
    assert sql.execute("SELECT price FROM cars WHERE id = %s", (car["id"],)).fetchone()["price"] == 10000
    lowered = client.put(f"/api/cars/{car['id']}", headers=factory.headers(seller), json={"price": 8000})
    assert lowered.get_json()["originalPrice"] == 8000
