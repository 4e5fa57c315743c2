"""Admin console, audit log: GET /api/admin/actions."""

from __future__ import annotations

import pytest

ACTIONS = "/api/admin/actions"


def action(factory, admin, action_type, target_id=None, created_at="2024-05-01 12:00:00", details=None):
    return factory.row("admin_actions", admin_id=admin["id"] if admin else None, action_type=action_type,
                       target_id=target_id, details=details if details is not None else {"k": "v"},
                       created_at=created_at)


def get_actions(client, factory, admin, **params):
    return client.get(ACTIONS, query_string=params, headers=factory.headers(admin))


def test_actions_come_newest_first_with_admin_and_target_user(client, factory):
    admin = factory.user("admin", name="Ada Admin", email="ada@example.com")
    seller = factory.user("seller", name="Sal Seller", email="sal@example.com")
    car = factory.car(seller)
    older = action(factory, admin, "create_seller", seller["id"], "2024-05-01 09:00:00", {"email": "sal@example.com"})
    newer = action(factory, admin, "approve_car", car["id"], "2024-05-02 09:00:00", {"status": "available"})

    response = get_actions(client, factory, admin)

    assert response.status_code == 200
    body = response.get_json()
    assert body["pagination"] == {"limit": 50, "offset": 0, "total": 2}
    assert [entry["id"] for entry in body["actions"]] == [newer["id"], older["id"]]
    assert body["actions"][1] == {
        "id": older["id"],
        "adminId": admin["id"],
        "actionType": "create_seller",
        "targetId": seller["id"],
        "details": {"email": "sal@example.com"},
        "createdAt": "2024-05-01T09:00:00.000Z",
        "admin": {"id": admin["id"], "name": "Ada Admin", "email": "ada@example.com"},
        "targetUser": {"id": seller["id"], "name": "Sal Seller", "email": "sal@example.com", "role": "seller"},
    }
    assert body["actions"][0]["targetUser"] is None
    assert body["actions"][0]["targetId"] == car["id"]


def test_target_user_is_null_for_car_actions_even_when_a_user_has_that_id(client, factory):
    admin = factory.user("admin")
    seller = factory.user("seller")
    action(factory, admin, "reject_car", target_id=seller["id"])
    action(factory, admin, "update_user", target_id=seller["id"])

    actions = get_actions(client, factory, admin).get_json()["actions"]

    by_type = {entry["actionType"]: entry for entry in actions}
    assert by_type["reject_car"]["targetUser"] is None
    assert by_type["update_user"]["targetUser"]["id"] == seller["id"]


def test_an_action_whose_target_is_gone_still_lists(client, factory):
    # Its admin cannot be gone: admin_id is NOT NULL (as in old deployments) and users with
    # audit rows cannot be deleted.
    admin = factory.user("admin")
    action(factory, admin, "create_user", target_id=987654, details={})

    entry = get_actions(client, factory, admin).get_json()["actions"][0]

    assert entry["adminId"] == admin["id"]
    assert entry["admin"]["id"] == admin["id"]
    assert entry["targetUser"] is None
    assert entry["details"] == {}


def test_actions_written_by_the_console_show_up_with_their_target(client, factory):
    admin = factory.user("admin")
    headers = factory.headers(admin)
    created = client.post("/api/admin/users", headers=headers, json={
        "name": "Nina", "email": "nina@example.com", "password": "longenough", "role": "user"}).get_json()
    client.patch(f"/api/admin/users/{created['id']}", json={"isActive": False}, headers=headers)

    actions = get_actions(client, factory, admin).get_json()["actions"]

    assert [entry["actionType"] for entry in actions] == ["update_user", "create_user"]
    assert all(entry["targetUser"]["email"] == "nina@example.com" for entry in actions)
    assert actions[0]["details"]["changes"] == {"isActive": False}
    assert actions[0]["createdAt"].endswith("Z")


def test_actions_filter_by_type(client, factory):
    admin = factory.user("admin")
    action(factory, admin, "create_user")
    wanted = action(factory, admin, "create_seller")

    body = get_actions(client, factory, admin, actionType="create_seller").get_json()

    assert [entry["id"] for entry in body["actions"]] == [wanted["id"]]
    assert body["pagination"]["total"] == 1


def test_actions_filter_by_dates_with_whole_days_inclusive(client, factory):
    admin = factory.user("admin")
    before = action(factory, admin, "a", created_at="2024-04-30 23:59:59.999999")
    first = action(factory, admin, "b", created_at="2024-05-01 00:00:00")
    last = action(factory, admin, "c", created_at="2024-05-02 23:59:59.999999")
    after = action(factory, admin, "d", created_at="2024-05-03 00:00:00")

    body = get_actions(client, factory, admin, startDate="2024-05-01", endDate="2024-05-02").get_json()
    assert [entry["id"] for entry in body["actions"]] == [last["id"], first["id"]]

    only_start = get_actions(client, factory, admin, startDate="2024-05-01").get_json()
    assert {entry["id"] for entry in only_start["actions"]} == {first["id"], last["id"], after["id"]}

    only_end = get_actions(client, factory, admin, endDate="2024-04-30").get_json()
    assert [entry["id"] for entry in only_end["actions"]] == [before["id"]]


def test_actions_filter_by_iso_date_times_in_utc(client, factory):
    admin = factory.user("admin")
    action(factory, admin, "early", created_at="2024-05-01 09:59:59")
    inside = action(factory, admin, "inside", created_at="2024-05-01 10:00:00")
    edge = action(factory, admin, "edge", created_at="2024-05-01 12:00:00")
    action(factory, admin, "late", created_at="2024-05-01 12:00:00.000001")

    body = get_actions(client, factory, admin, startDate="2024-05-01T12:00:00+02:00",
                       endDate="2024-05-01T12:00:00Z").get_json()

    assert [entry["id"] for entry in body["actions"]] == [edge["id"], inside["id"]]


def test_actions_page_with_limit_and_offset(client, factory):
    admin = factory.user("admin")
    rows = [action(factory, admin, "t", created_at=f"2024-05-{day:02d} 10:00:00") for day in range(1, 8)]
    newest_first = [row["id"] for row in reversed(rows)]

    body = get_actions(client, factory, admin, limit="3", offset="2").get_json()

    assert [entry["id"] for entry in body["actions"]] == newest_first[2:5]
    assert body["pagination"] == {"limit": 3, "offset": 2, "total": 7}


def test_actions_at_equal_times_come_highest_id_first(client, factory):
    admin = factory.user("admin")
    rows = [action(factory, admin, "t", created_at="2024-05-01 10:00:00") for _ in range(3)]
    body = get_actions(client, factory, admin).get_json()
    assert [entry["id"] for entry in body["actions"]] == [row["id"] for row in reversed(rows)]


def test_actions_offset_past_the_end_gives_an_empty_page_with_the_total(client, factory):
    admin = factory.user("admin")
    action(factory, admin, "t")
    body = get_actions(client, factory, admin, offset="5").get_json()
    assert body == {"actions": [], "pagination": {"limit": 50, "offset": 5, "total": 1}}


def test_actions_of_an_empty_log(client, factory):
    admin = factory.user("admin")
    body = get_actions(client, factory, admin).get_json()
    assert body == {"actions": [], "pagination": {"limit": 50, "offset": 0, "total": 0}}


def test_actions_limit_defaults_to_50(client, factory, sql):
    admin = factory.user("admin")
    sql.execute(
        "INSERT INTO admin_actions (admin_id, action_type, details) "
        "SELECT %s, 't', '{}' FROM generate_series(1, 55)", (admin["id"],)
    )
    body = get_actions(client, factory, admin).get_json()
    assert len(body["actions"]) == 50
    assert body["pagination"]["total"] == 55
    assert len(get_actions(client, factory, admin, limit="200").get_json()["actions"]) == 55


def test_empty_filters_from_the_form_are_ignored(client, factory):
    admin = factory.user("admin")
    action(factory, admin, "t")
    body = get_actions(client, factory, admin, actionType="", startDate="", endDate="", limit="", offset="")
    assert body.status_code == 200
    assert len(body.get_json()["actions"]) == 1


@pytest.mark.parametrize(("param", "value"), [
    ("limit", "0"), ("limit", "201"), ("limit", "abc"), ("limit", "2.5"), ("limit", "-1"),
    ("offset", "-1"), ("offset", "x"), ("offset", "99999999999"),
    ("startDate", "yesterday"), ("startDate", "2024-13-01"), ("startDate", "2024-02-30"),
    ("endDate", "01/05/2024"), ("endDate", "2024-05-01T25:00:00"),
    ("actionType", "x" * 51),
])
def test_actions_refuse_an_invalid_parameter(client, factory, param, value):
    admin = factory.user("admin")
    response = get_actions(client, factory, admin, **{param: value})
    assert response.status_code == 400
    assert param in response.get_json()["details"]


def test_actions_refuse_a_start_after_the_end(client, factory):
    admin = factory.user("admin")
    response = get_actions(client, factory, admin, startDate="2024-05-03", endDate="2024-05-02")
    assert response.status_code == 400
    assert "startDate" in response.get_json()["details"]


def test_actions_accept_the_far_future_as_an_end_date(client, factory):
    admin = factory.user("admin")
    action(factory, admin, "t")
    body = get_actions(client, factory, admin, endDate="9999-12-31").get_json()
    assert len(body["actions"]) == 1


def test_actions_need_a_token(client):
    response = client.get(ACTIONS)
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


@pytest.mark.parametrize("role", ["user", "seller"])
def test_actions_are_forbidden_to_buyers_and_sellers(client, factory, role):
    caller = factory.user(role)
    response = client.get(ACTIONS, headers=factory.headers(caller))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
