"""Admin console, users: GET/POST /api/admin/users and PATCH /api/admin/users/:id."""

from __future__ import annotations

import threading

import psycopg
import pytest
from support.app import error_of, fail_after
from support.databases import wait_for_lock_waiter

from cms.services import audit

USERS = "/api/admin/users"
NEW_USER = {"name": "Nina New", "email": "nina@example.com", "password": "longenough", "role": "seller"}


def audit_rows(sql, action_type=None):
    rows = sql.execute("SELECT * FROM admin_actions ORDER BY id").fetchall()
    return [row for row in rows if action_type is None or row["action_type"] == action_type]


def user_row(sql, user_id):
    return sql.execute("SELECT * FROM users WHERE id = %s", (user_id,)).fetchone()


# --- GET /api/admin/users -----------------------------------------------------------

def test_list_users_shows_every_user_with_the_contract_fields_and_no_secrets(client, factory, sql):
    admin = factory.user("admin", name="Ada Admin")
    buyer = factory.user("user", name="Bo Buyer", is_active=False)
    sql.execute("UPDATE users SET last_login = '2024-05-01 10:00:00' WHERE id = %s", (buyer["id"],))

    response = client.get(USERS, headers=factory.headers(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert [row["id"] for row in body] == [admin["id"], buyer["id"]]
    assert body[1] == {
        "id": buyer["id"], "name": "Bo Buyer", "email": buyer["email"], "role": "user",
        "isActive": False, "lastLogin": "2024-05-01T10:00:00.000Z",
    }
    assert body[0]["lastLogin"] is None


@pytest.mark.parametrize(("method", "path"), [
    ("get", USERS), ("post", USERS), ("patch", f"{USERS}/1"),
])
def test_user_routes_need_a_token(client, method, path):
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


@pytest.mark.parametrize("role", ["user", "seller"])
@pytest.mark.parametrize(("method", "path"), [
    ("get", USERS), ("post", USERS), ("patch", f"{USERS}/1"),
])
def test_user_routes_are_forbidden_to_buyers_and_sellers(client, factory, sql, role, method, path):
    caller = factory.user(role)
    body = NEW_USER if method == "post" else {"isActive": False}
    response = getattr(client, method)(path.replace("/1", f"/{caller['id']}"), json=body,
                                       headers=factory.headers(caller))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
    assert user_row(sql, caller["id"])["is_active"] is True
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1
    assert audit_rows(sql) == []


def test_a_deactivated_admin_token_no_longer_opens_the_console(client, factory, sql):
    admin = factory.user("admin")
    headers = factory.headers(admin)
    sql.execute("UPDATE users SET is_active = false WHERE id = %s", (admin["id"],))
    response = client.get(USERS, headers=headers)
    assert response.status_code == 401
    assert error_of(response) == "Account is deactivated"


# --- POST /api/admin/users ----------------------------------------------------------

def test_create_user_returns_the_new_user_whose_password_works(client, factory, sql):
    admin = factory.user("admin")

    response = client.post(USERS, json={**NEW_USER, "email": "  Nina@Example.com "}, headers=factory.headers(admin))

    assert response.status_code == 200
    user = response.get_json()
    assert isinstance(user["id"], int)
    assert user["name"] == "Nina New"
    assert user["email"] == "Nina@Example.com"
    assert user["role"] == "seller"
    assert user["isActive"] is True
    assert user["lastLogin"] is None
    assert not {"password", "passwordHash", "password_hash"} & set(user)
    row = user_row(sql, user["id"])
    assert row["password_hash"].startswith("$2b$")
    login = client.post("/api/auth/login", json={"email": "nina@example.com", "password": "longenough"})
    assert login.status_code == 200
    assert login.get_json()["user"]["role"] == "seller"


@pytest.mark.parametrize("role", ["admin", "seller", "user"])
def test_create_user_accepts_each_role(client, factory, role):
    admin = factory.user("admin")
    response = client.post(USERS, json={**NEW_USER, "role": role}, headers=factory.headers(admin))
    assert response.status_code == 200
    assert response.get_json()["role"] == role


def test_create_user_records_one_audit_entry_without_the_password(client, factory, sql):
    admin = factory.user("admin")
    user = client.post(USERS, json=NEW_USER, headers=factory.headers(admin)).get_json()

    rows = audit_rows(sql)
    assert len(rows) == 1
    assert rows[0]["admin_id"] == admin["id"]
    assert rows[0]["action_type"] == "create_user"
    assert rows[0]["target_id"] == user["id"]
    assert rows[0]["details"] == {"name": "Nina New", "email": "nina@example.com", "role": "seller"}
    assert NEW_USER["password"] not in str(rows[0]["details"])


@pytest.mark.parametrize("role", ["superuser", "Admin", "", None, 3])
def test_create_user_refuses_an_unknown_role(client, factory, sql, role):
    admin = factory.user("admin")
    response = client.post(USERS, json={**NEW_USER, "role": role}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert response.get_json()["error"] == "Invalid role"
    assert "role" in response.get_json()["details"]
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1
    assert audit_rows(sql) == []


def test_create_user_without_a_role_is_an_invalid_role(client, factory):
    admin = factory.user("admin")
    body = {key: value for key, value in NEW_USER.items() if key != "role"}
    response = client.post(USERS, json=body, headers=factory.headers(admin))
    assert response.status_code == 400
    assert response.get_json()["error"] == "Invalid role"


def test_create_user_refuses_an_email_in_use_whatever_its_case_and_blanks(client, factory, sql):
    admin = factory.user("admin")
    factory.user("user", email="taken@example.com")

    response = client.post(USERS, json={**NEW_USER, "email": " TAKEN@example.com "}, headers=factory.headers(admin))

    assert response.status_code == 400
    assert response.get_json()["error"] == "Email already exists"
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 2
    assert audit_rows(sql) == []


@pytest.mark.parametrize(("email", "error"), [("ｔaken@example.com", "Email already exists"),
                                              ("taкen@example.com", "Invalid input: email")])
def test_create_user_refuses_a_look_alike_of_an_email_in_use(client, factory, sql, email, error):
    admin = factory.user("admin")
    factory.user("user", email="taken@example.com")
    response = client.post(USERS, json={**NEW_USER, "email": email}, headers=factory.headers(admin))
    assert (response.status_code, response.get_json()["error"]) == (400, error)
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 2
    assert audit_rows(sql) == []


@pytest.mark.parametrize(("field", "value"), [
    ("name", None), ("name", ""), ("name", "   "), ("name", 42), ("name", "x" * 256),
    ("email", None), ("email", "not-an-email"), ("email", 7), ("email", "a" * 250 + "@example.com"),
    ("password", None), ("password", "short"), ("password", 12345678), ("password", "é" * 37),
])
def test_create_user_refuses_an_invalid_field(client, factory, sql, field, value):
    admin = factory.user("admin")
    response = client.post(USERS, json={**NEW_USER, field: value}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1


@pytest.mark.parametrize("field", ["name", "email", "password"])
def test_create_user_refuses_a_missing_field(client, factory, field):
    admin = factory.user("admin")
    body = {key: value for key, value in NEW_USER.items() if key != field}
    response = client.post(USERS, json=body, headers=factory.headers(admin))
    assert response.status_code == 400
    assert field in response.get_json()["details"]


@pytest.mark.parametrize("data", ["{not json", "[1, 2]"])
def test_create_user_refuses_a_body_that_is_not_a_json_object(client, factory, data):
    admin = factory.user("admin")
    response = client.post(USERS, data=data, content_type="application/json", headers=factory.headers(admin))
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_a_failing_user_creation_leaves_neither_user_nor_audit_row(client, factory, sql, monkeypatch):
    admin = factory.user("admin")
    fail_after(monkeypatch, audit, "record", RuntimeError("disk full"))
    response = client.post(USERS, json=NEW_USER, headers=factory.headers(admin))

    assert response.status_code == 500
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1
    assert audit_rows(sql) == []


# --- PATCH /api/admin/users/:id -----------------------------------------------------

def test_deactivating_a_user_stops_their_existing_token(client, factory, sql):
    admin = factory.user("admin")
    buyer = factory.user("user")
    buyer_headers = factory.headers(buyer)
    assert client.get("/api/users/profile", headers=buyer_headers).status_code == 200

    response = client.patch(f"{USERS}/{buyer['id']}", json={"isActive": False}, headers=factory.headers(admin))

    assert response.status_code == 200
    assert response.get_json()["isActive"] is False
    assert user_row(sql, buyer["id"])["is_active"] is False
    refused = client.get("/api/users/profile", headers=buyer_headers)
    assert refused.status_code == 401
    login = client.post("/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]})
    assert login.status_code == 400

    reactivated = client.patch(f"{USERS}/{buyer['id']}", json={"isActive": True}, headers=factory.headers(admin))
    assert reactivated.get_json()["isActive"] is True
    assert client.get("/api/users/profile", headers=buyer_headers).status_code == 200


def test_changing_a_role_returns_the_user_and_records_old_and_new_values(client, factory, sql):
    admin = factory.user("admin")
    buyer = factory.user("user", name="Bo Buyer")

    response = client.patch(f"{USERS}/{buyer['id']}", json={"role": "seller"}, headers=factory.headers(admin))

    assert response.status_code == 200
    user = response.get_json()
    assert user["id"] == buyer["id"]
    assert user["role"] == "seller"
    assert user["name"] == "Bo Buyer"
    assert user["email"] == buyer["email"]
    assert user["isActive"] is True
    assert not {"password", "passwordHash"} & set(user)
    assert user_row(sql, buyer["id"])["role"] == "seller"
    rows = audit_rows(sql)
    assert len(rows) == 1
    assert rows[0]["action_type"] == "update_user"
    assert rows[0]["admin_id"] == admin["id"]
    assert rows[0]["target_id"] == buyer["id"]
    assert rows[0]["details"]["changes"] == {"role": "seller"}
    assert rows[0]["details"]["previous"] == {"role": "user"}


def test_the_new_role_applies_to_the_users_existing_token(client, factory):
    admin = factory.user("admin")
    seller = factory.user("seller")
    seller_headers = factory.headers(seller)
    refused = client.get(USERS, headers=seller_headers)
    assert (refused.status_code, error_of(refused)) == (403, "Forbidden")

    promoted = client.patch(f"{USERS}/{seller['id']}", json={"role": "admin"}, headers=factory.headers(admin))
    assert (promoted.status_code, promoted.get_json()["role"]) == (200, "admin")
    listed = client.get(USERS, headers=seller_headers)
    assert listed.status_code == 200
    assert {row["id"] for row in listed.get_json()} >= {admin["id"], seller["id"]}

    client.patch(f"{USERS}/{seller['id']}", json={"role": "user"}, headers=factory.headers(admin))
    refused_again = client.get(USERS, headers=seller_headers)
    assert (refused_again.status_code, error_of(refused_again)) == (403, "Forbidden")


def test_admin_updates_name_phone_and_address_and_can_clear_them(client, factory, sql):
    admin = factory.user("admin")
    buyer = factory.user("user", phone="111", address="Old street")

    response = client.patch(f"{USERS}/{buyer['id']}", json={"name": "  New Name ", "phone": "+1 555 0100",
                                                            "address": None}, headers=factory.headers(admin))

    assert response.status_code == 200
    user = response.get_json()
    assert (user["name"], user["phone"], user["address"]) == ("New Name", "+1 555 0100", None)
    row = user_row(sql, buyer["id"])
    assert (row["name"], row["phone"], row["address"]) == ("New Name", "+1 555 0100", None)
    details = audit_rows(sql)[0]["details"]
    assert details["previous"] == {"name": buyer["name"], "phone": "111", "address": "Old street"}


def test_sending_values_a_user_already_has_changes_nothing_and_writes_no_audit(client, factory, sql):
    admin = factory.user("admin")
    buyer = factory.user("user")
    before = user_row(sql, buyer["id"])

    response = client.patch(f"{USERS}/{buyer['id']}", json={"isActive": True, "role": "user"},
                            headers=factory.headers(admin))

    assert response.status_code == 200
    assert response.get_json()["role"] == "user"
    assert user_row(sql, buyer["id"])["updated_at"] == before["updated_at"]
    assert audit_rows(sql) == []


def test_an_admin_can_deactivate_another_admin(client, factory, sql):
    admin = factory.user("admin")
    other = factory.user("admin")
    response = client.patch(f"{USERS}/{other['id']}", json={"isActive": False}, headers=factory.headers(admin))
    assert response.status_code == 200
    assert user_row(sql, other["id"])["is_active"] is False


@pytest.mark.parametrize("key", [
    "passwordHash", "password_hash", "password", "email", "id", "createdAt", "updatedAt", "lastLogin",
    "avatar", "is_active",
])
def test_patch_refuses_fields_outside_the_whitelist(client, factory, sql, key):
    admin = factory.user("admin")
    buyer = factory.user("user")
    before = user_row(sql, buyer["id"])

    response = client.patch(f"{USERS}/{buyer['id']}", json={key: "x"}, headers=factory.headers(admin))

    assert response.status_code == 400
    assert key in response.get_json()["error"]
    assert key in response.get_json()["details"]
    assert user_row(sql, buyer["id"]) == before
    assert audit_rows(sql) == []


def test_patch_with_password_hash_or_email_changes_nothing_at_all(client, factory, sql):
    """Fix: the old server copied the body into the row, so an admin could set any hash or email."""
    admin = factory.user("admin")
    buyer = factory.user("user")
    before = user_row(sql, buyer["id"])

    response = client.patch(f"{USERS}/{buyer['id']}", headers=factory.headers(admin), json={
        "isActive": False, "name": "Renamed", "passwordHash": "$2b$10$" + "a" * 53, "email": "mine@example.com",
    })

    assert response.status_code == 400
    assert user_row(sql, buyer["id"]) == before
    assert audit_rows(sql) == []
    login = client.post("/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]})
    assert login.status_code == 200


def test_an_admin_cannot_deactivate_themself(client, factory, sql):
    admin = factory.user("admin")
    response = client.patch(f"{USERS}/{admin['id']}", json={"isActive": False}, headers=factory.headers(admin))
    assert response.status_code == 403
    assert response.get_json()["error"] == "You cannot deactivate your own account"
    assert user_row(sql, admin["id"])["is_active"] is True
    assert audit_rows(sql) == []


@pytest.mark.parametrize("role", ["seller", "user"])
def test_an_admin_cannot_demote_themself(client, factory, sql, role):
    admin = factory.user("admin")
    response = client.patch(f"{USERS}/{admin['id']}", json={"role": role}, headers=factory.headers(admin))
    assert response.status_code == 403
    assert "your own role" in response.get_json()["error"]
    assert user_row(sql, admin["id"])["role"] == "admin"
    assert audit_rows(sql) == []


def test_an_admin_may_rename_themself(client, factory, sql):
    admin = factory.user("admin")
    response = client.patch(f"{USERS}/{admin['id']}", json={"name": "Chief", "isActive": True, "role": "admin"},
                            headers=factory.headers(admin))
    assert response.status_code == 200
    assert response.get_json()["name"] == "Chief"
    assert audit_rows(sql)[0]["details"]["changes"] == {"name": "Chief"}


@pytest.mark.parametrize(("field", "value"), [
    ("isActive", "false"), ("isActive", 0), ("isActive", 1), ("isActive", None), ("isActive", "yes"),
    ("role", "superadmin"), ("role", ""), ("role", None), ("role", 3),
    ("name", ""), ("name", None), ("name", "x" * 256), ("name", 5),
    ("phone", "1" * 51), ("phone", 5), ("address", "a" * 2001),
])
def test_patch_refuses_an_invalid_value(client, factory, sql, field, value):
    admin = factory.user("admin")
    buyer = factory.user("user")
    before = user_row(sql, buyer["id"])
    response = client.patch(f"{USERS}/{buyer['id']}", json={field: value}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert user_row(sql, buyer["id"]) == before


def test_patch_refuses_an_empty_body(client, factory):
    admin = factory.user("admin")
    buyer = factory.user("user")
    response = client.patch(f"{USERS}/{buyer['id']}", json={}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Nothing to change")


def test_patch_of_an_unknown_user_is_404(client, factory, sql):
    admin = factory.user("admin")
    response = client.patch(f"{USERS}/999999", json={"isActive": False}, headers=factory.headers(admin))
    assert response.status_code == 404
    assert response.get_json() == {"error": "User not found"}
    assert audit_rows(sql) == []


@pytest.mark.parametrize("user_id", ["abc", "1.5", "-1", "0", "99999999999"])
def test_patch_with_a_bad_path_id_is_400(client, factory, user_id):
    admin = factory.user("admin")
    response = client.patch(f"{USERS}/{user_id}", json={"isActive": False}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_a_failing_update_leaves_the_user_unchanged_and_no_audit_row(client, factory, sql, monkeypatch):
    admin = factory.user("admin")
    buyer = factory.user("user")
    fail_after(monkeypatch, audit, "record", RuntimeError("disk full"))
    response = client.patch(f"{USERS}/{buyer['id']}", json={"isActive": False}, headers=factory.headers(admin))

    assert response.status_code == 500
    assert user_row(sql, buyer["id"])["is_active"] is True
    assert audit_rows(sql) == []


def test_an_admin_demoted_while_waiting_for_the_lock_changes_nothing(app, factory, sql, database_url):
    """The caller's own row is locked and re-read: an admin demoted by a concurrent request cannot act."""
    admin = factory.user("admin")
    target = factory.user("user")
    headers = factory.headers(admin)
    answers = []

    with psycopg.connect(database_url) as blocker:
        blocker.execute("SELECT id FROM users WHERE id IN (%s, %s) ORDER BY id FOR UPDATE",
                        (admin["id"], target["id"]))
        thread = threading.Thread(target=lambda: answers.append(
            app.test_client().patch(f"{USERS}/{target['id']}", json={"role": "admin"}, headers=headers)))
        thread.start()
        wait_for_lock_waiter(sql)
        blocker.execute("UPDATE users SET role = 'user' WHERE id = %s", (admin["id"],))
        blocker.commit()
    thread.join(10)

    assert answers[0].status_code == 403
    assert user_row(sql, target["id"])["role"] == "user"
    assert audit_rows(sql) == []
