"""Registration, login, tokens (what the frontend decodes with atob), and who may call what."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from types import SimpleNamespace

import jwt
import pytest
from support.app import TEST_JWT_SECRET, atob_payload
from support.databases import LEGACY_HASH, LEGACY_PASSWORD

from cms.api import tokens
from cms.api.tokens import issue_token
from cms.repositories import users as users_repo
from cms.services.passwords import check_password, hash_password

TOKEN_KEYS = {"id", "role", "email", "iat", "exp"}


def register(client, **body):
    data = {"name": "New Person", "email": "new@example.com", "password": "secret123", "role": "user"}
    data.update(body)
    return client.post("/api/auth/register", json=data)


def user_count(sql) -> int:
    return sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def signed(payload: dict, secret: str = TEST_JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def claims(user: dict, **changes) -> dict:
    now = int(time.time())
    payload = {"id": user["id"], "role": user["role"], "email": user["email"], "iat": now, "exp": now + 3600}
    payload.update(changes)
    return payload


# --- register ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["user", "seller"])
def test_register_creates_the_account_and_returns_user_and_token(client, sql, role):
    response = register(client, name="  Nina  ", email=" Nina@Example.com ", role=role)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"user", "token"}
    user = body["user"]
    assert user["name"] == "Nina"
    assert user["email"] == "Nina@Example.com"
    assert user["role"] == role
    assert user["isActive"] is True
    assert isinstance(user["id"], int)
    text = response.get_data(as_text=True)
    assert "password" not in text.lower() and "$2" not in text
    row = sql.execute("SELECT * FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row["role"] == role and row["email"] == "Nina@Example.com"
    assert row["password_hash"].startswith("$2b$10$")
    assert check_password("secret123", row["password_hash"])
    payload = atob_payload(body["token"])
    assert payload["id"] == user["id"] and payload["role"] == role


def test_register_without_role_makes_a_buyer(client):
    response = client.post("/api/auth/register", json={"name": "A", "email": "a@example.com", "password": "secret1"})
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "user"


@pytest.mark.parametrize("role", ["admin", "superuser", "", "ADMIN", 5, None])
def test_register_refuses_other_roles_and_writes_nothing(client, sql, role):
    response = register(client, role=role)
    assert response.status_code == 400
    body = response.get_json()
    assert "role" in body["details"]
    assert user_count(sql) == 0


# "ｎ" is FULLWIDTH LATIN SMALL LETTER N, "．" FULLWIDTH FULL STOP: NFKC writes them "n" and ".".
@pytest.mark.parametrize("email", ["new@example.com", "NEW@EXAMPLE.COM", "  New@Example.com  ", "ｎew@example.com",
                                   "ＮＥＷ@ＥＸＡＭＰＬＥ.ＣＯＭ", "new@example\uff0ecom"])
def test_register_refuses_an_email_already_used_up_to_case_blanks_and_compatibility_forms(client, factory, sql,
                                                                                          email):
    factory.user(email="new@example.com")
    response = register(client, email=email)
    assert response.status_code == 400
    assert response.get_json() == {"error": "Email used"}
    assert user_count(sql) == 1


# "к" and "а" are Cyrillic: NFKC and case folding keep them.
@pytest.mark.parametrize("email", ["lucкy@example.com", "lucky@exаmple.com", "lücky@example.com"])
def test_register_refuses_an_email_that_is_not_ascii(client, factory, sql, email):
    factory.user(email="lucky@example.com")
    response = register(client, email=email)
    assert response.status_code == 400
    assert "ASCII" in response.get_json()["details"]["email"][0]
    assert user_count(sql) == 1


def test_a_fullwidth_email_is_stored_and_logged_in_as_plain_letters(client, sql):
    assert register(client, email="ｎｅｗ@example.com").status_code == 200
    assert sql.execute("SELECT email FROM users").fetchone()["email"] == "new@example.com"
    for typed in ("new@example.com", "ｎｅｗ@example.com", "NEW@example.com"):
        response = client.post("/api/auth/login", json={"email": typed, "password": "secret123"})
        assert response.status_code == 200, typed
    assert {row["email"] for row in sql.execute("SELECT email FROM auth_events").fetchall()} == {"new@example.com"}


@pytest.mark.parametrize("email", ["jörg@exämple.de", "ｓtrange@example.com", "Мария@пример.рф"])
def test_an_adopted_account_whose_email_is_not_ascii_still_logs_in(client, factory, email):
    factory.user(email=email, password="Legacy-Passw0rd")
    factory.user(email="strange@example.com", password="Other-Passw0rd")
    response = client.post("/api/auth/login", json={"email": email, "password": "Legacy-Passw0rd"})
    assert response.status_code == 200
    assert response.get_json()["user"]["email"] == email


def test_register_answers_email_used_when_a_concurrent_registration_won(client, factory, monkeypatch):
    factory.user(email="race@example.com")
    monkeypatch.setattr(users_repo, "email_taken", lambda conn, email: False)
    response = register(client, email="race@example.com")
    assert response.status_code == 400
    assert response.get_json() == {"error": "Email used"}


@pytest.mark.parametrize(("body", "fields"), [
    ({"email": "x@example.com", "password": "secret1"}, {"name"}),
    ({"name": "X", "password": "secret1"}, {"email"}),
    ({"name": "X", "email": "x@example.com"}, {"password"}),
    ({}, {"name", "email", "password"}),
    ({"name": "X", "email": "not-an-email", "password": "secret1"}, {"email"}),
    ({"name": "   ", "email": "x@example.com", "password": "secret1"}, {"name"}),
    ({"name": "X", "email": "x@example.com", "password": "12345"}, {"password"}),
    ({"name": "X", "email": 7, "password": "secret1"}, {"email"}),
    ({"name": "X", "email": "x@example.com", "password": ["secret1"]}, {"password"}),
    ({"name": "X" * 256, "email": "x@example.com", "password": "secret1"}, {"name"}),
])
def test_register_refuses_missing_or_invalid_fields_with_details(client, sql, body, fields):
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 400
    result = response.get_json()
    assert set(result["details"]) == fields
    assert result["error"].startswith("Invalid input")
    assert user_count(sql) == 0


def test_register_refuses_a_password_longer_than_72_bytes(client, sql):
    ascii_long = register(client, password="a" * 73)
    assert ascii_long.status_code == 400
    assert "password" in ascii_long.get_json()["details"]
    # 40 characters, but 80 bytes in UTF-8: bcrypt would silently ignore the end.
    multibyte = register(client, password="é" * 40)
    assert multibyte.status_code == 400
    assert "password" in multibyte.get_json()["details"]
    assert user_count(sql) == 0


def test_register_refuses_a_body_that_is_not_a_json_object(client):
    assert client.post("/api/auth/register", json=["a"]).status_code == 400
    malformed = client.post("/api/auth/register", data="{name:", content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.get_json() == {"error": "Malformed JSON body"}


# --- login -------------------------------------------------------------------------

def test_login_returns_user_and_token_and_sets_last_login(client, factory, sql):
    user = factory.user("seller", email="sam@example.com", name="Sam")
    assert user["last_login"] is None

    response = client.post("/api/auth/login", json={"email": " SAM@example.com ", "password": user["password"]})

    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["id"] == user["id"]
    assert body["user"]["email"] == "sam@example.com"
    assert body["user"]["role"] == "seller"
    assert body["user"]["name"] == "Sam"
    text = response.get_data(as_text=True)
    assert "password" not in text.lower() and user["password_hash"] not in text
    row = sql.execute(
        "SELECT last_login, now() AT TIME ZONE 'utc' AS now FROM users WHERE id = %s", (user["id"],)
    ).fetchone()
    assert row["last_login"] is not None
    assert abs((row["now"] - row["last_login"]).total_seconds()) < 5


def test_the_token_payload_is_exactly_id_role_email_iat_exp(client, factory, app):
    user = factory.user("admin", email="boss@example.com")
    token = client.post("/api/auth/login", json={"email": "boss@example.com", "password": user["password"]}) \
        .get_json()["token"]

    payload = atob_payload(token)

    assert set(payload) == TOKEN_KEYS
    assert type(payload["id"]) is int and payload["id"] == user["id"]
    assert payload["role"] == "admin"
    assert payload["email"] == "boss@example.com"
    lifetime = app.config["CMS_SETTINGS"].jwt_expires_in
    assert payload["exp"] - payload["iat"] == lifetime
    assert abs(payload["iat"] - time.time()) < 60
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"]) == payload


def test_token_payloads_stay_readable_by_atob_whatever_the_email(client, app):
    # '>', '?' and '~' (and DEL) are the ASCII bytes that put '-' or '_' into base64url.
    emails = [f"{'x' * shift}{chars}@example.com" for shift in range(3) for chars in ("~?~?", "??~~", "a~b?c")]
    with app.app_context():
        for index, email in enumerate(emails, start=1):
            token = issue_token({"id": index, "role": "user", "email": email})
            assert atob_payload(token)["email"] == email
    response = register(client, email="t~i?lde@example.com")
    assert response.status_code == 200
    assert atob_payload(response.get_json()["token"])["email"] == "t~i?lde@example.com"


def test_login_accepts_a_bcryptjs_2a_hash_of_the_old_server(client, factory):
    user = factory.user(email="legacy@example.com", password_hash=LEGACY_HASH)
    response = client.post("/api/auth/login", json={"email": "legacy@example.com", "password": LEGACY_PASSWORD})
    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == user["id"]
    wrong = client.post("/api/auth/login", json={"email": "legacy@example.com", "password": "old-secret-43"})
    assert wrong.status_code == 400


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "deactivated", "long password", "no hash"])
def test_login_refuses_with_one_message_for_every_failure(client, factory, sql, case):
    user = factory.user(email="kim@example.com", is_active=(case != "deactivated"))
    if case == "no hash":
        sql.execute("UPDATE users SET password_hash = 'not a bcrypt hash' WHERE id = %s", (user["id"],))
    credentials = {
        "wrong password": {"email": "kim@example.com", "password": "Password123?"},
        "unknown email": {"email": "nobody@example.com", "password": user["password"]},
        "deactivated": {"email": "kim@example.com", "password": user["password"]},
        "long password": {"email": "kim@example.com", "password": "p" * 100},
        "no hash": {"email": "kim@example.com", "password": user["password"]},
    }[case]

    response = client.post("/api/auth/login", json=credentials)

    assert response.status_code == 400
    assert response.get_json() == {"error": "Invalid credentials"}
    assert sql.execute("SELECT last_login FROM users WHERE id = %s", (user["id"],)).fetchone()["last_login"] is None


@pytest.mark.parametrize("body", [{}, {"email": "a@example.com"}, {"password": "x"}, {"email": 1, "password": "x"}])
def test_login_refuses_missing_fields(client, body):
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 400
    assert response.get_json()["details"]


# --- tokens on protected routes ----------------------------------------------------

def test_no_token_is_401_no_token(client):
    response = client.get("/api/users/profile")
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


def test_an_expired_token_is_401_invalid_token(client, factory):
    user = factory.user()
    now = int(time.time())
    token = signed(claims(user, iat=now - 7200, exp=now - 60))
    response = client.get("/api/users/profile", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid token"}


def test_a_token_expires_after_the_configured_lifetime(client, factory, app, monkeypatch):
    user = factory.user()
    lifetime = dt.timedelta(seconds=app.config["CMS_SETTINGS"].jwt_expires_in)

    def token_issued(ago: dt.timedelta) -> str:
        class Clock(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return dt.datetime.now(tz) - ago

        monkeypatch.setattr(tokens, "dt", SimpleNamespace(datetime=Clock, UTC=dt.UTC))
        with app.app_context():
            return issue_token(user)

    fresh_enough = token_issued(lifetime - dt.timedelta(minutes=1))
    too_old = token_issued(lifetime + dt.timedelta(minutes=1))
    assert client.get("/api/users/profile", headers=bearer(fresh_enough)).status_code == 200
    response = client.get("/api/users/profile", headers=bearer(too_old))
    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid token"}


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims_ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims_["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims_).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("make_token", [
    pytest.param(lambda user, token: _tampered(token), id="payload changed"),
    pytest.param(lambda user, token: signed(claims(user), secret="another-secret-" + "y" * 40), id="other key"),
    pytest.param(lambda user, token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), id="bad signature"),
    pytest.param(lambda user, token: jwt.encode(claims(user), None, algorithm="none"), id="alg none"),
    pytest.param(lambda user, token: signed(claims(user, id=str(user["id"]))), id="string id"),
    pytest.param(lambda user, token: signed(claims(user, id=True)), id="boolean id"),
    pytest.param(lambda user, token: signed({"id": user["id"], "role": "user"}), id="no exp"),
    pytest.param(lambda user, token: signed(claims(user, id=999999)), id="unknown user"),
    pytest.param(lambda user, token: "not.a.token", id="garbage"),
    pytest.param(lambda user, token: token + " extra", id="trailing word"),
])
def test_a_forged_or_malformed_token_is_401_invalid_token(client, factory, make_token):
    user = factory.user()
    token = make_token(user, factory.token(user))
    response = client.get("/api/users/profile", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid token"}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_401(client, header):
    response = client.get("/api/users/profile", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid token"}


def test_a_deactivated_users_token_stops_working_on_the_next_request(client, factory, sql):
    user = factory.user()
    headers = factory.headers(user)
    assert client.get("/api/users/profile", headers=headers).status_code == 200

    sql.execute("UPDATE users SET is_active = false WHERE id = %s", (user["id"],))

    response = client.get("/api/users/profile", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]


@pytest.mark.parametrize("role", ["user", "seller"])
def test_admin_routes_are_403_forbidden_for_other_roles(client, factory, role):
    response = client.get("/api/users", headers=factory.headers(factory.user(role)))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}


def test_roles_come_from_the_database_not_from_the_token(client, factory):
    user = factory.user("user")
    token = signed(claims(user, role="admin"))
    profile = client.get("/api/users/profile", headers=bearer(token))
    assert (profile.status_code, profile.get_json()["role"]) == (200, "user")
    response = client.get("/api/users", headers=bearer(token))
    assert (response.status_code, response.get_json()) == (403, {"error": "Forbidden"})


def test_a_demoted_admins_token_loses_admin_rights(client, factory, sql):
    admin = factory.user("admin")
    headers = factory.headers(admin)
    listed = client.get("/api/users", headers=headers)
    assert listed.status_code == 200
    assert admin["id"] in {row["id"] for row in listed.get_json()}
    sql.execute("UPDATE users SET role = 'user' WHERE id = %s", (admin["id"],))
    refused = client.get("/api/users", headers=headers)
    assert (refused.status_code, refused.get_json()) == (403, {"error": "Forbidden"})


def test_new_passwords_are_hashed_with_bcrypt_cost_10_or_more(app):
    hashed = hash_password("secret123", app.config["CMS_SETTINGS"].bcrypt_rounds)
    assert hashed.startswith("$2b$")
    assert int(hashed.split("$")[2]) >= 10
    assert check_password("secret123", hashed)
    assert not check_password("secret124", hashed)
    assert not check_password("secret123", None)


def test_no_cookie_is_set(client, factory):
    user = factory.user()
    response = client.post("/api/auth/login", json={"email": user["email"], "password": user["password"]})
    assert "Set-Cookie" not in response.headers
    profile = client.get("/api/users/profile", headers=factory.headers(user))
    assert "Set-Cookie" not in profile.headers


def test_timestamps_in_the_token_are_seconds_since_the_epoch(app):
    with app.app_context():
        payload = atob_payload(issue_token({"id": 1, "role": "user", "email": "a@example.com"}))
    issued = dt.datetime.fromtimestamp(payload["iat"], dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - issued).total_seconds()) < 60
