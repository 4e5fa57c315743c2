"""GET/PATCH /api/users/profile and GET /api/users (admin)."""

from __future__ import annotations

import re

import pytest
from support.app import error_of

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PROFILE_KEYS = {"id", "name", "email", "role", "phone", "address", "avatar"}


def test_profile_returns_the_callers_own_fields(client, factory):
    user = factory.user("seller", name="Pat", email="pat@example.com", phone="555", address="1 Road",
                        avatar="https://img.example/pat.png")
    factory.user("user")  # someone else

    response = client.get("/api/users/profile", headers=factory.headers(user))

    assert response.status_code == 200
    assert response.get_json() == {
        "id": user["id"], "name": "Pat", "email": "pat@example.com", "role": "seller",
        "phone": "555", "address": "1 Road", "avatar": "https://img.example/pat.png",
    }


def test_profile_needs_a_token(client):
    assert client.get("/api/users/profile").status_code == 401
    assert client.patch("/api/users/profile", json={"name": "X"}).status_code == 401


def test_patch_profile_changes_name_phone_address_and_avatar(client, factory, sql):
    user = factory.user(name="Old", phone="1", address="Old street", avatar=None)
    before = sql.execute("SELECT * FROM users WHERE id = %s", (user["id"],)).fetchone()

    response = client.patch("/api/users/profile", headers=factory.headers(user), json={
        "name": "  New Name ", "phone": "+33 1 23", "address": "2 New street", "avatar": "data:image/png;base64,AA==",
    })

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == user["id"]
    assert (body["name"], body["phone"], body["address"], body["avatar"]) == (
        "New Name", "+33 1 23", "2 New street", "data:image/png;base64,AA=="
    )
    assert body["email"] == user["email"] and body["role"] == "user"
    assert "password" not in response.get_data(as_text=True).lower()
    after = sql.execute("SELECT * FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert (after["name"], after["phone"], after["address"], after["avatar"]) == (
        "New Name", "+33 1 23", "2 New street", "data:image/png;base64,AA=="
    )
    unchanged = ("email", "role", "is_active", "password_hash", "last_login", "created_at")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}


def test_patch_profile_changes_only_the_fields_sent(client, factory, sql):
    user = factory.user(name="Keep", phone="1", address="Somewhere", avatar="a.png")
    response = client.patch("/api/users/profile", headers=factory.headers(user), json={"phone": None})
    assert response.status_code == 200
    row = sql.execute("SELECT name, phone, address, avatar FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row == {"name": "Keep", "phone": None, "address": "Somewhere", "avatar": "a.png"}
    assert client.get("/api/users/profile", headers=factory.headers(user)).get_json()["phone"] is None


@pytest.mark.parametrize("body", [
    {"role": "admin"},
    {"email": "other@example.com"},
    {"isActive": False},
    {"is_active": False},
    {"passwordHash": "$2b$10$abc"},
    {"password_hash": "$2b$10$abc"},
    {"password": "newpassword"},
    {"id": 99},
    {"createdAt": "2020-01-01T00:00:00Z"},
    {"name": "Allowed", "role": "admin"},
])
def test_patch_profile_refuses_any_other_field_and_changes_nothing(client, factory, sql, body):
    user = factory.user(name="Same")
    before = sql.execute("SELECT * FROM users WHERE id = %s", (user["id"],)).fetchone()

    response = client.patch("/api/users/profile", headers=factory.headers(user), json=body)

    assert response.status_code == 400
    assert set(response.get_json()["details"]) == set(body) - {"name"}
    assert sql.execute("SELECT * FROM users WHERE id = %s", (user["id"],)).fetchone() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": 5}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"phone": "1" * 51}, "phone"),
    ({"avatar": ["a"]}, "avatar"),
])
def test_patch_profile_refuses_invalid_values(client, factory, body, field):
    user = factory.user()
    response = client.patch("/api/users/profile", headers=factory.headers(user), json=body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]


def test_patch_profile_accepts_an_inline_picture_as_avatar(client, factory, sql):
    user = factory.user()
    avatar = "data:image/jpeg;base64," + "A" * 200_000
    response = client.patch("/api/users/profile", headers=factory.headers(user), json={"avatar": avatar})
    assert response.status_code == 200
    assert response.get_json()["avatar"] == avatar
    too_big = client.patch("/api/users/profile", headers=factory.headers(user), json={"avatar": "A" * 2_000_001})
    assert too_big.status_code == 400 and "avatar" in too_big.get_json()["details"]
    assert sql.execute("SELECT avatar FROM users WHERE id = %s", (user["id"],)).fetchone()["avatar"] == avatar


def test_patch_profile_refuses_a_body_that_is_not_an_object(client, factory):
    headers = factory.headers(factory.user())
    assert client.patch("/api/users/profile", headers=headers, json=["name"]).status_code == 400
    malformed = client.patch("/api/users/profile", headers=headers, data="{", content_type="application/json")
    assert malformed.status_code == 400 and malformed.get_json()["error"]


def test_admin_lists_every_user_without_secrets(client, factory, sql):
    admin = factory.user("admin", name="Ada")
    seller = factory.user("seller", name="Sol", is_active=False)
    buyer = factory.user("user", name="Bo")
    sql.execute("UPDATE users SET last_login = '2024-05-06 07:08:09.5' WHERE id = %s", (buyer["id"],))

    response = client.get("/api/users", headers=factory.headers(admin))

    assert response.status_code == 200
    users = response.get_json()
    assert [u["id"] for u in users] == [admin["id"], seller["id"], buyer["id"]]
    for item in users:
        assert set(item) == {"id", "name", "email", "role", "isActive", "lastLogin"}
    assert users[1] == {"id": seller["id"], "name": "Sol", "email": seller["email"], "role": "seller",
                        "isActive": False, "lastLogin": None}
    assert users[2]["lastLogin"] == "2024-05-06T07:08:09.500Z"
    assert ISO_UTC.match(users[2]["lastLogin"])
    assert "$2" not in response.get_data(as_text=True)


def test_user_list_needs_an_admin(client, factory):
    anonymous = client.get("/api/users")
    assert (anonymous.status_code, error_of(anonymous)) == (401, "No token")
    for role in ("user", "seller"):
        response = client.get("/api/users", headers=factory.headers(factory.user(role)))
        assert (response.status_code, error_of(response)) == (403, "Forbidden")


def test_patch_profile_accepts_the_whole_profile_sent_back_by_the_form(client, factory, sql):
    user = factory.user(name="Before")
    headers = factory.headers(user)
    profile = client.get("/api/users/profile", headers=headers).get_json()
    response = client.patch("/api/users/profile", headers=headers, json={**profile, "name": "After"})
    assert response.status_code == 200
    row = sql.execute("SELECT name, email, role FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row == {"name": "After", "email": user["email"], "role": "user"}
    escalation = client.patch("/api/users/profile", headers=headers, json={**profile, "role": "admin"})
    assert escalation.status_code == 400
    assert sql.execute("SELECT role FROM users WHERE id = %s", (user["id"],)).fetchone()["role"] == "user"
