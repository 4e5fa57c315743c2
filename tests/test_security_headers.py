"""Response headers from the security review (issue 13): nosniff on JSON, no-store where a token or
personal data is answered, and /ping without server details (those are for admins)."""

from __future__ import annotations

import pytest


def test_json_answers_carry_nosniff(client, factory):
    factory.car(factory.user("seller"))
    for response in (client.get("/api/cars"), client.get("/api/cars/1"), client.get("/api/cars/999"),
                     client.get("/ping")):
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_login_answers_are_never_stored(client, factory, outcome):
    user = factory.user("user")
    password = user["password"] if outcome == "success" else "wrong password"
    response = client.post("/api/auth/login", json={"email": user["email"], "password": password})
    assert response.status_code == (200 if outcome == "success" else 400)
    assert response.headers["Cache-Control"] == "no-store"


def test_register_and_profile_answers_are_never_stored(client, factory):
    registered = client.post("/api/auth/register", json={
        "name": "New", "email": "new-no-store@example.com", "password": "secret-pass-1", "role": "user"})
    assert registered.status_code == 200
    assert registered.headers["Cache-Control"] == "no-store"
    headers = factory.headers(factory.user("user"))
    for response in (client.get("/api/users/profile", headers=headers),
                     client.patch("/api/users/profile", json={"name": "Renamed"}, headers=headers)):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


def test_ping_keeps_the_contract_shape_without_server_details(client):
    body = client.get("/ping").get_json()
    assert set(body) == {"status", "database", "timestamp"}
    assert (body["status"], body["database"]) == ("alive", "connected")


def test_server_details_are_for_admins_only(client, factory):
    assert client.get("/api/admin/health").status_code == 401
    assert client.get("/api/admin/health", headers=factory.headers(factory.user("seller"))).status_code == 403
    body = client.get("/api/admin/health", headers=factory.headers(factory.user("admin"))).get_json()
    assert body["status"] == "alive"
    assert set(body) >= {"databaseVersion", "migrationVersion", "pool"}
