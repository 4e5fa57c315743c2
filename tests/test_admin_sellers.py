"""Admin console, sellers: POST /api/admin/sellers and the password rules behind it."""

from __future__ import annotations

import json
import string

import pytest
from support.app import fail_after

from cms.services import audit, passwords

SELLERS = "/api/admin/sellers"
SELLER = {"name": "Sal Seller", "email": "sal@example.com", "password": "Str0ng!pass", "phone": "+1 555 0101",
          "address": "1 Main St"}


def audit_rows(sql):
    return sql.execute("SELECT * FROM admin_actions ORDER BY id").fetchall()


def user_count(sql):
    return sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"]


def assert_no_password_in_audit(sql, password):
    for row in audit_rows(sql):
        text = json.dumps(row["details"])
        assert password not in text
        assert not {"password", "passwordHash", "password_hash", "temporaryPassword"} & set(row["details"])


# --- the password service -----------------------------------------------------------

def test_generated_passwords_have_12_characters_of_every_class_and_differ():
    generated = [passwords.generate_password() for _ in range(300)]
    allowed = set(string.ascii_letters + string.digits + passwords.SYMBOLS)
    for password in generated:
        assert len(password) == 12
        assert set(password) <= allowed
        assert any(c.isupper() for c in password)
        assert any(c.islower() for c in password)
        assert any(c.isdigit() for c in password)
        assert any(c in passwords.SYMBOLS for c in password)
        assert passwords.is_strong(password)
    assert len(set(generated)) == len(generated)


@pytest.mark.parametrize(("password", "problem"), [
    ("Sh0rt!", "at least 8"),
    ("lowercase1!", "upper-case"),
    ("UPPERCASE1!", "lower-case"),
    ("NoDigits!!", "digit"),
    ("NoSymbol123", "symbols"),
    ("Question1?", "symbols"),
    ("Aa1!" + "é" * 35, "72 bytes"),
])
def test_password_problems_name_what_is_missing(password, problem):
    problems = passwords.password_problems(password)
    assert len(problems) == 1
    assert problem in problems[0]


@pytest.mark.parametrize("password", ["Str0ng!pass", "aB3-aaaa", "Zz9=Zz9=", "Aa1_" + "x" * 68])
def test_password_problems_accept_strong_passwords(password):
    assert passwords.password_problems(password) == []


# --- POST /api/admin/sellers --------------------------------------------------------

def test_create_seller_with_a_given_password_answers_201_with_the_seller(client, factory, sql):
    admin = factory.user("admin")

    response = client.post(SELLERS, json=SELLER, headers=factory.headers(admin))

    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["message"], str) and body["message"]
    seller = body["seller"]
    assert isinstance(seller["id"], int)
    assert seller == {"id": seller["id"], "name": "Sal Seller", "email": "sal@example.com", "role": "seller",
                      "phone": "+1 555 0101", "address": "1 Main St", "isActive": True}
    assert "temporaryPassword" not in body
    assert "note" not in body
    row = sql.execute("SELECT * FROM users WHERE id = %s", (seller["id"],)).fetchone()
    assert row["role"] == "seller" and row["phone"] == "+1 555 0101" and row["address"] == "1 Main St"
    login = client.post("/api/auth/login", json={"email": "sal@example.com", "password": SELLER["password"]})
    assert login.status_code == 200
    assert login.get_json()["user"]["role"] == "seller"


@pytest.mark.parametrize("password", ["", None, "missing"])
def test_create_seller_without_a_password_generates_one_shown_once(client, factory, sql, password):
    admin = factory.user("admin")
    body = {"name": "Gen Seller", "email": "gen@example.com"}
    if password != "missing":
        body["password"] = password

    response = client.post(SELLERS, json=body, headers=factory.headers(admin))

    assert response.status_code == 201
    answer = response.get_json()
    temporary = answer["temporaryPassword"]
    assert len(temporary) == 12 and passwords.is_strong(temporary)
    assert "change" in answer["note"]
    assert "no-store" in response.headers["Cache-Control"]
    assert answer["seller"]["phone"] is None and answer["seller"]["address"] is None
    login = client.post("/api/auth/login", json={"email": "gen@example.com", "password": temporary})
    assert login.status_code == 200
    listing = client.get("/api/admin/users", headers=factory.headers(admin)).get_json()
    assert temporary not in json.dumps(listing)
    assert_no_password_in_audit(sql, temporary)


def test_create_seller_records_one_create_seller_entry_without_the_password(client, factory, sql):
    admin = factory.user("admin")
    seller = client.post(SELLERS, json=SELLER, headers=factory.headers(admin)).get_json()["seller"]

    rows = audit_rows(sql)
    assert len(rows) == 1
    assert rows[0]["action_type"] == "create_seller"
    assert rows[0]["admin_id"] == admin["id"]
    assert rows[0]["target_id"] == seller["id"]
    assert rows[0]["details"]["email"] == "sal@example.com"
    assert rows[0]["details"]["generatedCredentials"] is False
    assert_no_password_in_audit(sql, SELLER["password"])


@pytest.mark.parametrize("password", ["Sh0rt!", "lowercase1!", "UPPERCASE1!", "NoDigits!!", "NoSymbol123",
                                      "Question1?", "Aa1!" + "é" * 35, "        "])
def test_create_seller_refuses_a_weak_given_password(client, factory, sql, password):
    admin = factory.user("admin")
    response = client.post(SELLERS, json={**SELLER, "password": password}, headers=factory.headers(admin))
    assert response.status_code == 400
    body = response.get_json()
    assert "password" in body["error"].lower()
    assert body["details"]["password"]
    assert user_count(sql) == 1
    assert audit_rows(sql) == []


@pytest.mark.parametrize("field", ["name", "email"])
def test_create_seller_needs_a_name_and_an_email(client, factory, sql, field):
    admin = factory.user("admin")
    body = {key: value for key, value in SELLER.items() if key != field}
    response = client.post(SELLERS, json=body, headers=factory.headers(admin))
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert user_count(sql) == 1


@pytest.mark.parametrize(("field", "value"), [
    ("name", ""), ("name", None), ("name", 12), ("email", "nope"), ("email", ""), ("email", ["a@b.c"]),
    ("password", 12345678), ("phone", "9" * 51), ("phone", 5), ("address", "a" * 2001),
])
def test_create_seller_refuses_an_invalid_field(client, factory, sql, field, value):
    admin = factory.user("admin")
    response = client.post(SELLERS, json={**SELLER, field: value}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert user_count(sql) == 1


@pytest.mark.parametrize("email", [" SAL@example.COM", "ｓal@example.com"])
def test_create_seller_refuses_an_email_in_use(client, factory, sql, email):
    admin = factory.user("admin")
    factory.user("user", email="sal@example.com")
    response = client.post(SELLERS, json={**SELLER, "email": email}, headers=factory.headers(admin))
    assert response.status_code == 400
    assert response.get_json()["error"] == "Email already exists"
    assert user_count(sql) == 2
    assert audit_rows(sql) == []


def test_create_seller_needs_a_token(client, sql):
    response = client.post(SELLERS, json=SELLER)
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}
    assert user_count(sql) == 0


@pytest.mark.parametrize("role", ["user", "seller"])
def test_create_seller_is_forbidden_to_buyers_and_sellers(client, factory, sql, role):
    caller = factory.user(role)
    response = client.post(SELLERS, json=SELLER, headers=factory.headers(caller))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
    assert user_count(sql) == 1


def test_a_failing_seller_creation_leaves_neither_seller_nor_audit_row(client, factory, sql, monkeypatch):
    admin = factory.user("admin")
    fail_after(monkeypatch, audit, "record", RuntimeError("disk full"))
    response = client.post(SELLERS, json=SELLER, headers=factory.headers(admin))

    assert response.status_code == 500
    assert user_count(sql) == 1
    assert audit_rows(sql) == []
