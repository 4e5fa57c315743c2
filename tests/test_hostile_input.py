"""Hostile input: SQL metacharacters stored verbatim and never executed, oversized and deeply
nested bodies, wrong content types, unicode, absurd paging, forged or stale tokens.

Most tests use the in-process client; the token and body-size tests also run against the
real server (granian, production settings) to prove the same answers there.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from urllib.parse import quote

import jwt
import pytest
import requests
from support.app import TEST_JWT_SECRET

# Strings that break naive SQL building (quotes, comments, psycopg and PostgreSQL
# placeholders, backslash escapes). Each must be stored and returned exactly as sent.
SQL_METACHARACTERS = [
    "'; DROP TABLE cars; --",
    '" OR 1=1 --',
    "%(x)s",
    "$1",
    "%s %% {} \\x00",
    "back\\slash \\' \\\\ end",
    "Robert'); DROP TABLE users;--",
    "1; SELECT pg_sleep(5)",
]
NUL = "nul\x00byte"
UNICODE = [
    "Zoë Ñandú 李雷 مرحبا Ελλάδα",
    "🚗💨 Électrique ✓",
    "👩🏽‍🔧 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
    "combining é vs é, zero\u200bwidth, rtl \u202eabc",
]
# The tables of the marketplace's content (not logs such as auth_events, which a refused request may write).
CONTENT_TABLES = ("users", "cars", "orders", "inquiries", "reviews", "favorites", "car_images", "admin_actions")


def tables_intact(sql) -> bool:
    rows = sql.execute(
        "SELECT count(*) AS n FROM unnest(%s::text[]) AS t(name) WHERE to_regclass('public.' || t.name) IS NOT NULL",
        (list(CONTENT_TABLES),),
    ).fetchone()
    return rows["n"] == len(CONTENT_TABLES)


def assert_json_error(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.is_json, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert isinstance(body.get("error"), str) and body["error"]
    return body


@pytest.fixture
def people(factory):
    admin = factory.user("admin")
    seller = factory.user("seller")
    buyer = factory.user("user")
    return {
        "admin": admin, "seller": seller, "buyer": buyer,
        "admin_h": factory.headers(admin), "seller_h": factory.headers(seller), "buyer_h": factory.headers(buyer),
        "car": factory.car(seller, status="available"),
    }


# --- SQL metacharacters in every text field -----------------------------------------

def as_link(text: str) -> str:
    """The text as the path of a link: URLs may hold no spaces or control characters (issue 13),
    so those are percent-encoded and every SQL metacharacter stays as it is."""
    return "https://docs.example/" + quote(text, safe="'\";%()=,{}\\-!*")


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_register_and_profile_store_sql_metacharacters_verbatim(client, sql, text):
    registered = client.post("/api/auth/register", json={
        "name": text, "email": "meta@example.com", "password": "secret123", "role": "user"})
    assert registered.status_code == 200, registered.get_json()
    assert registered.get_json()["user"]["name"] == text
    headers = {"Authorization": f"Bearer {registered.get_json()['token']}"}

    patched = client.patch("/api/users/profile", headers=headers, json={
        "name": text + " 2", "phone": text[:50], "address": text, "avatar": as_link(text)})
    assert patched.status_code == 200, patched.get_json()
    profile = client.get("/api/users/profile", headers=headers).get_json()
    assert (profile["name"], profile["phone"], profile["address"], profile["avatar"]) == (
        text + " 2", text[:50], text, as_link(text))
    row = sql.execute("SELECT name, address FROM users WHERE lower(email) = 'meta@example.com'").fetchone()
    assert row == {"name": text + " 2", "address": text}
    assert tables_intact(sql)


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_car_text_fields_store_sql_metacharacters_verbatim(client, sql, people, text):
    fields = {"title": text, "description": text, "brand": text, "model": text, "fuelType": text}
    created = client.post("/api/cars", headers=people["seller_h"], json={**fields, "price": 1000, "year": 2020})
    assert created.status_code == 200, created.get_json()
    car = created.get_json()
    assert {key: car[key] for key in fields} == fields

    detail = client.get(f"/api/cars/{car['id']}").get_json()
    assert {key: detail[key] for key in fields} == fields

    edited = client.put(f"/api/cars/{car['id']}", headers=people["seller_h"],
                        json={"title": text + "!", "description": text * 2})
    assert edited.status_code == 200
    assert (edited.get_json()["title"], edited.get_json()["description"]) == (text + "!", text * 2)
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 2
    assert tables_intact(sql)


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_car_list_filters_treat_sql_metacharacters_as_plain_values(client, sql, factory, people, text):
    matching = factory.car(people["seller"], brand=text, model=text, fuel_type=text, title="Meta car")
    for key in ("brand", "model", "fuelType"):
        response = client.get("/api/cars", query_string={key: text})
        assert response.status_code == 200, response.get_json()
        assert [car["id"] for car in response.get_json()] == [matching["id"]], key
    for key in ("q", "brand", "model", "fuelType"):
        for value in (text, text + "x"):
            response = client.get("/api/cars", query_string={key: value, "sort": "relevance", "limit": 5})
            assert response.status_code == 200, (key, response.get_json())
            assert response.headers["X-Total-Count"].isdigit()
    for key in ("status", "sort", "sellerId", "minPrice", "maxPrice", "minYear", "maxYear", "limit", "offset"):
        assert_json_error(client.get("/api/cars", query_string={key: text}), 400)
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 2
    assert tables_intact(sql)


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_inquiry_and_review_texts_store_sql_metacharacters_verbatim(client, sql, factory, people, text):
    buyer = factory.user("user", name=text)
    headers = factory.headers(buyer)
    car_id = people["car"]["id"]

    inquiry = client.post("/api/inquiries", headers=headers, json={"carId": car_id, "message": text})
    assert inquiry.status_code == 200, inquiry.get_json()
    assert inquiry.get_json()["message"] == text
    responded = client.patch(f"/api/seller/inquiries/{inquiry.get_json()['id']}", headers=people["seller_h"],
                             json={"status": "responded", "response": text})
    assert responded.status_code == 200, responded.get_json()
    assert responded.get_json()["response"] == text
    assert [i["message"] for i in client.get("/api/inquiries", headers=headers).get_json()] == [text]

    review = client.post("/api/reviews", headers=headers, json={"carId": car_id, "rating": 4, "comment": text})
    assert review.status_code == 200, review.get_json()
    assert (review.get_json()["comment"], review.get_json()["userName"]) == (text, text)
    listed = client.get(f"/api/reviews/car/{car_id}").get_json()
    assert [(r["comment"], r["userName"]) for r in listed] == [(text, text)]
    assert tables_intact(sql)


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_admin_texts_store_sql_metacharacters_verbatim(client, sql, factory, people, text):
    headers = people["admin_h"]
    created = client.post("/api/admin/users", headers=headers, json={
        "name": text, "email": "meta-user@example.com", "password": "longenough1", "role": "user"})
    assert created.status_code == 200, created.get_json()
    assert created.get_json()["name"] == text
    renamed = client.patch(f"/api/admin/users/{created.get_json()['id']}", headers=headers,
                           json={"name": text + " 2", "address": text})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == text + " 2"

    seller = client.post("/api/admin/sellers", headers=headers, json={
        "name": text, "email": "meta-seller@example.com", "password": "", "phone": text[:50], "address": text})
    assert seller.status_code == 201, seller.get_json()
    assert (seller.get_json()["seller"]["name"], seller.get_json()["seller"]["address"]) == (text, text)

    rejected = client.patch(f"/api/admin/cars/{people['car']['id']}/approval", headers=headers,
                            json={"status": "rejected", "rejectionReason": text})
    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["rejectionReason"] == text

    users = {u["email"]: u["name"] for u in client.get("/api/admin/users", headers=headers).get_json()}
    assert users["meta-user@example.com"] == text + " 2"
    actions = client.get("/api/admin/actions", headers=headers, query_string={"actionType": text})
    assert actions.status_code == 200 and actions.get_json()["actions"] == []
    logged = client.get("/api/admin/security-log", headers=headers, query_string={"email": text, "ip": text[:60]})
    assert logged.status_code == 200, logged.get_json()
    assert tables_intact(sql)


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_order_documents_store_sql_metacharacters_verbatim(client, sql, people, text):
    order = client.post("/api/seller/orders", headers=people["seller_h"],
                        json={"carId": people["car"]["id"], "buyerId": people["buyer"]["id"], "finalPrice": 10})
    assert order.status_code == 200, order.get_json()
    documents = [{"name": text, "url": as_link(text), "uploadedAt": "2030-01-01T00:00:00Z"}]
    updated = client.patch(f"/api/seller/orders/{order.get_json()['id']}", headers=people["seller_h"],
                           json={"documents": documents})
    assert updated.status_code == 200, updated.get_json()
    assert [(d["name"], d["url"]) for d in updated.get_json()["documents"]] == [(text, as_link(text))]
    assert tables_intact(sql)


# --- NUL bytes ---------------------------------------------------------------------------

def nul_requests(people):
    car_id = people["car"]["id"]
    seller, admin, buyer = people["seller_h"], people["admin_h"], people["buyer_h"]
    return [
        ("post", "/api/auth/register", None, {"name": NUL, "email": "n@example.com", "password": "secret123"}),
        ("post", "/api/auth/login", None, {"email": NUL, "password": "secret123"}),
        ("post", "/api/auth/login", None, {"email": "n@example.com", "password": NUL}),
        ("patch", "/api/users/profile", buyer, {"name": NUL}),
        ("patch", "/api/users/profile", buyer, {"address": NUL}),
        ("post", "/api/cars", seller, {"title": NUL, "price": 1}),
        ("post", "/api/cars", seller, {"title": "ok", "price": 1, "description": NUL}),
        ("put", f"/api/cars/{car_id}", seller, {"brand": NUL}),
        ("post", "/api/inquiries", buyer, {"carId": car_id, "message": NUL}),
        ("post", "/api/reviews", buyer, {"carId": car_id, "rating": 5, "comment": NUL}),
        ("post", "/api/admin/users", admin, {"name": NUL, "email": "x@example.com", "password": "longenough1",
                                             "role": "user"}),
        ("post", "/api/admin/sellers", admin, {"name": "S", "email": "s@example.com", "address": NUL}),
        ("patch", f"/api/admin/cars/{car_id}/approval", admin, {"status": "rejected", "rejectionReason": NUL}),
    ]


def test_nul_bytes_in_a_text_field_are_refused_with_400_and_nothing_is_written(client, sql, people):
    before = {t: sql.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in CONTENT_TABLES}
    for method, path, headers, body in nul_requests(people):
        response = getattr(client, method)(path, headers=headers, json=body)
        assert_json_error(response, 400)
    after = {t: sql.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in CONTENT_TABLES}
    assert after == before
    car = sql.execute("SELECT brand, status FROM cars WHERE id = %s", (people["car"]["id"],)).fetchone()
    assert car == {"brand": "Brand", "status": "available"}


@pytest.mark.parametrize("method, path, template, who", [
    ("post", "/api/cars", '{"title": "a%sb", "price": 1}', "seller_h"),
    ("post", "/api/auth/register", '{"name": "x", "email": "s@example.com", "password": "pass%sword"}', None),
    ("post", "/api/auth/login", '{"email": "a%s@example.com", "password": "secret123"}', None),
    ("patch", "/api/users/profile", '{"name": "%s"}', "buyer_h"),
    ("post", "/api/reviews", '{"carId": 1, "rating": 5, "comment": "x%s"}', "buyer_h"),
    ("post", "/api/admin/users", '{"name": "n", "email": "u@example.com", "password": "long%senough", '
                                 '"role": "user"}', "admin_h"),
])
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\udc00\\ud800"])
def test_an_unpaired_surrogate_escape_is_400_not_a_crash(client, sql, people, method, path, template, who, escape):
    users = sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"]
    response = getattr(client, method)(path, data=template % escape, content_type="application/json",
                                       headers=people[who] if who else None)
    assert_json_error(response, 400)
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == users


def test_an_escaped_surrogate_pair_is_an_emoji_and_round_trips(client, people):
    response = client.post("/api/cars", data='{"title": "car \\ud83d\\ude97", "price": 1}',
                           content_type="application/json", headers=people["seller_h"])
    assert response.status_code == 200
    assert response.get_json()["title"] == "car \U0001f697"


@pytest.mark.parametrize("key", ["q", "brand", "model", "fuelType", "status", "sort"])
def test_a_nul_byte_in_a_car_list_parameter_is_400(client, key):
    assert_json_error(client.get("/api/cars", query_string={key: NUL}), 400)


# --- paging ------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    {"limit": "1000000"}, {"limit": "1e9"}, {"limit": "1000000000"}, {"limit": "99999999999999999999"},
    {"limit": "0"}, {"limit": "-1"}, {"limit": "2.5"}, {"limit": "abc"},
    {"offset": "-1"}, {"offset": "-999999999999"}, {"offset": "1e3"}, {"offset": "99999999999"},
])
@pytest.mark.parametrize("path", ["/api/cars", "/api/admin/cars", "/api/admin/actions",
                                  "/api/admin/security-log", "/api/admin/notifications"])
def test_absurd_limits_and_offsets_are_400(client, people, path, query):
    assert_json_error(client.get(path, query_string=query, headers=people["admin_h"]), 400)


def test_the_largest_allowed_page_and_an_offset_past_the_end_are_fine(client, people):
    response = client.get("/api/cars", query_string={"limit": 100, "offset": 2_000_000_000})
    assert response.status_code == 200
    assert response.get_json() == [] and response.headers["X-Total-Count"] == "1"


# --- body size, nesting and content types ------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def ten_megabyte_json() -> bytes:
    return json.dumps({"title": "x" * TEN_MB, "price": 1}).encode()


def test_a_10_mb_json_body_is_413_json(client, sql, people):
    for method, path, headers in [("post", "/api/cars", people["seller_h"]),
                                  ("post", "/api/auth/register", None),
                                  ("patch", "/api/users/profile", people["buyer_h"])]:
        response = getattr(client, method)(path, data=ten_megabyte_json(), content_type="application/json",
                                           headers=headers)
        body = assert_json_error(response, 413)
        assert "too large" in body["error"]
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 1


def test_a_json_body_under_the_json_limit_is_read(client, people):
    body = json.dumps({"title": "t", "price": 1, "description": "d" * 20000, "padding": "p" * 3_000_000})
    response = client.post("/api/cars", data=body, content_type="application/json", headers=people["seller_h"])
    assert response.status_code == 200, response.get_json()
    avatar = "data:image/png;base64," + "A" * 1_999_000  # the largest legitimate JSON body
    response = client.patch("/api/users/profile", json={"avatar": avatar}, headers=people["buyer_h"])
    assert response.status_code == 200 and response.get_json()["avatar"] == avatar


@pytest.mark.parametrize("document", [
    "[" * 10000 + "]" * 10000,
    '{"a":' * 10000 + "1" + "}" * 10000,
    '{"title": ' + "[" * 100000 + "]" * 100000 + ', "price": 1}',
])
def test_deeply_nested_json_is_400_not_a_crash(client, people, document):
    for method, path, headers in [("post", "/api/cars", people["seller_h"]), ("post", "/api/auth/login", None),
                                  ("patch", "/api/admin/users/1", people["admin_h"])]:
        response = getattr(client, method)(path, data=document, content_type="application/json", headers=headers)
        assert_json_error(response, 400)


def test_moderately_nested_values_are_refused_by_the_schemas(client, people):
    nested = {"a": 1}
    for _ in range(500):
        nested = {"a": nested}
    response = client.post("/api/cars", headers=people["seller_h"], json={"title": nested, "price": [nested]})
    assert_json_error(response, 400)
    response = client.patch(f"/api/seller/orders/{1}", headers=people["seller_h"], json={"documents": [nested]})
    assert_json_error(response, 400, 404)


@pytest.mark.parametrize("kind", ["text/plain", "form", "multipart", "xml", "no content type"])
def test_non_json_bodies_to_json_routes_are_4xx_json(client, sql, people, kind):
    login = {"email": "a@example.com", "password": "secret123"}
    car = {"title": "Form car", "price": "1000"}
    for path, headers, fields in [("/api/auth/login", None, login), ("/api/cars", people["seller_h"], car),
                                  ("/api/auth/register", None, {**login, "name": "Form"})]:
        if kind == "text/plain":
            response = client.post(path, data="email=a@example.com&password=x", content_type="text/plain",
                                   headers=headers)
        elif kind == "form":
            response = client.post(path, data=fields, content_type="application/x-www-form-urlencoded",
                                   headers=headers)
        elif kind == "multipart":
            response = client.post(path, data=fields, content_type="multipart/form-data", headers=headers)
        elif kind == "xml":
            response = client.post(path, data="<login><email>a</email></login>", content_type="application/xml",
                                   headers=headers)
        else:
            response = client.post(path, data=b"\x00\xff\xfe binary", headers=headers)
        assert_json_error(response, 400, 415)
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 1
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 3


def test_json_to_the_multipart_upload_route_is_400_json(client, people):
    response = client.post(f"/api/cars/{people['car']['id']}/images", headers=people["seller_h"],
                           json={"images": ["aGVsbG8="]})
    assert_json_error(response, 400)


def test_a_json_body_that_is_not_utf8_is_400(client, people):
    response = client.post("/api/cars", data=b'{"title": "\xff\xfe", "price": 1}', content_type="application/json",
                           headers=people["seller_h"])
    assert_json_error(response, 400)


@pytest.mark.parametrize("document", ["null", "[]", "[1, 2]", '"a string"', "42", "true", '{"title": NaN}',
                                      '{"title": "x", "price": Infinity}', '{"title": "x", "price": 1e400}'])
def test_json_that_is_not_a_valid_object_is_400(client, people, document):
    response = client.post("/api/cars", data=document, content_type="application/json", headers=people["seller_h"])
    assert_json_error(response, 400)


# --- unicode and emoji ---------------------------------------------------------------------

@pytest.mark.parametrize("text", UNICODE)
def test_unicode_and_emoji_round_trip_through_names_titles_and_reviews(client, sql, factory, people, text):
    registered = client.post("/api/auth/register", json={
        "name": text, "email": "uni@example.com", "password": "secret123", "role": "user"})
    assert registered.status_code == 200
    assert registered.get_json()["user"]["name"] == text
    token = registered.get_json()["token"]
    payload = token.split(".")[1]
    assert "-" not in payload and "_" not in payload  # the frontend decodes it with atob
    headers = {"Authorization": f"Bearer {token}"}

    car = client.post("/api/cars", headers=people["seller_h"], json={
        "title": text, "description": text, "brand": text, "model": text, "price": 5, "fuelType": text})
    assert car.status_code == 200
    car_id = car.get_json()["id"]
    sql.execute("UPDATE cars SET status = 'available' WHERE id = %s", (car_id,))  # reviewable once public
    assert client.get(f"/api/cars/{car_id}").get_json()["title"] == text
    listed = client.get("/api/cars", query_string={"brand": text}).get_json()
    assert [c["id"] for c in listed] == [car_id]

    review = client.post("/api/reviews", headers=headers, json={"carId": car_id, "rating": 5, "comment": text})
    assert (review.get_json()["comment"], review.get_json()["userName"]) == (text, text)
    inquiry = client.post("/api/inquiries", headers=headers, json={"carId": car_id, "message": text})
    assert inquiry.get_json()["message"] == text
    assert client.get("/api/users/profile", headers=headers).get_json()["name"] == text
    assert sql.execute("SELECT title FROM cars WHERE id = %s", (car_id,)).fetchone()["title"] == text
    raw = client.get(f"/api/reviews/car/{car_id}").get_data()
    assert json.loads(raw.decode("utf-8"))[0]["comment"] == text


def test_full_text_search_finds_words_in_any_script(client, factory, people):
    car = factory.car(people["seller"], title="Électrique 李雷 Ελλάδα", description="🚗 voiture")
    for query in ("électrique", "Ελλάδα", "李雷"):
        response = client.get("/api/cars", query_string={"q": query})
        assert response.status_code == 200
        assert car["id"] in [c["id"] for c in response.get_json()], query
    for query in ("🚗", "'", "&|!():*", "\\", "a:* & !b", "the"):
        assert client.get("/api/cars", query_string={"q": query}).status_code == 200, query


# --- forged and stale tokens against the real server ---------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims(user: dict, **changes) -> dict:
    now = int(time.time())
    return {"id": user["id"], "role": user["role"], "email": user["email"], "iat": now, "exp": now + 3600, **changes}


def role_changed_without_signing(token: str) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["role"] = "admin"
    return f"{header}.{b64url(json.dumps(decoded).encode())}.{signature}"


def unsigned(payload: dict, alg: str = "none") -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}."


FORGERIES = {
    "alg none": lambda user, token: unsigned(claims(user, role="admin")),
    "alg None capitalised": lambda user, token: unsigned(claims(user, role="admin"), alg="None"),
    "alg none with the real signature": lambda user, token: unsigned(claims(user))[:-1] + "." + token.split(".")[2],
    "wrong key": lambda user, token: jwt.encode(claims(user, role="admin"), "not-the-secret-" + "z" * 40),
    "expired": lambda user, token: jwt.encode(claims(user, iat=int(time.time()) - 7200,
                                                     exp=int(time.time()) - 3600), TEST_JWT_SECRET),
    "role changed in the payload": lambda user, token: role_changed_without_signing(token),
    "HS512 with the real secret": lambda user, token: jwt.encode(claims(user), TEST_JWT_SECRET, algorithm="HS512"),
    "huge id signed with the real secret": lambda user, token: jwt.encode(claims(user, id=2**70), TEST_JWT_SECRET),
    "empty signature": lambda user, token: token.rsplit(".", 1)[0] + ".",
    "four parts": lambda user, token: token + ".AAAA",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_tokens_are_401_json_on_the_real_server(live_server, factory, forgery):
    user = factory.user("user")
    token = FORGERIES[forgery](user, factory.token(user))
    for method, path in [("GET", "/api/users/profile"), ("GET", "/api/admin/users"),
                         ("POST", "/api/admin/users"), ("GET", "/api/seller/orders")]:
        response = requests.request(method, live_server.url + path, headers={"Authorization": f"Bearer {token}"},
                                    json={}, timeout=10)
        assert response.status_code == 401, (forgery, path, response.status_code, response.text[:200])
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == {"error": "Invalid token"}


def test_a_deleted_users_token_is_401_on_the_real_server(live_server, factory, sql):
    user = factory.user("admin")
    headers = factory.headers(user)
    assert requests.get(live_server.url + "/api/admin/users", headers=headers, timeout=10).status_code == 200
    sql.execute("DELETE FROM users WHERE id = %s", (user["id"],))
    for path in ("/api/users/profile", "/api/admin/users"):
        response = requests.get(live_server.url + path, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"error": "Invalid token"}


def test_a_deactivated_users_token_is_401_on_the_real_server(live_server, factory, sql):
    user = factory.user("seller")
    headers = factory.headers(user)
    assert requests.get(live_server.url + "/api/seller/orders", headers=headers, timeout=10).status_code == 200
    sql.execute("UPDATE users SET is_active = false WHERE id = %s", (user["id"],))
    for method, path in [("GET", "/api/seller/orders"), ("GET", "/api/users/profile"), ("POST", "/api/cars")]:
        response = requests.request(method, live_server.url + path, headers=headers,
                                    json={"title": "x", "price": 1}, timeout=10)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 0


def test_body_limits_hold_on_the_real_server(live_server, factory):
    seller = factory.user("seller")
    headers = {**factory.headers(seller), "Content-Type": "application/json"}
    nested = requests.post(live_server.url + "/api/cars", data="[" * 10000 + "]" * 10000, headers=headers,
                           timeout=10)
    assert nested.status_code == 400 and nested.json()["error"]
    try:
        huge = requests.post(live_server.url + "/api/cars", data=ten_megabyte_json(), headers=headers, timeout=30)
    except requests.ConnectionError:  # the server may answer 413 and close before the upload ends
        huge = None
    if huge is not None:
        assert huge.status_code == 413 and "too large" in huge.json()["error"]
    after = requests.get(live_server.url + "/ping", timeout=10)
    assert after.status_code == 200


def test_a_chunked_json_body_over_the_limit_is_413_on_the_real_server(live_server, factory, sql):
    seller = factory.user("seller")
    headers = {**factory.headers(seller), "Content-Type": "application/json"}

    def chunks():  # no Content-Length: the limit must hold while reading
        yield b'{"title": "ok", "price": 1, "description": "'
        yield from (b" " * 65536 for _ in range(100))
        yield b'"}'

    response = requests.post(live_server.url + "/api/cars", data=chunks(), headers=headers, timeout=30)
    assert response.status_code == 413 and "too large" in response.json()["error"]
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 0


@pytest.mark.parametrize("request_kwargs, status", [
    pytest.param({"params": {"q": "x" * 10_000}}, 414, id="10 kB URL"),
    pytest.param({"headers": {"X-Padding": "x" * 10_000}}, 431, id="10 kB header"),
    pytest.param({"headers": {f"X-H{i}": "x" for i in range(90)}}, 431, id="90 headers"),
])
def test_oversized_request_lines_and_headers_are_refused_as_json(live_server, request_kwargs, status):
    response = requests.get(live_server.url + "/api/cars", timeout=10, **request_kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_more_headers_than_the_http_layer_takes_are_refused_by_it(live_server):
    """granian's HTTP layer (hyper) stops at 100 header fields with a bare 431 before the app runs."""
    response = requests.get(live_server.url + "/api/cars", timeout=10, headers={f"X-H{i}": "x" for i in range(200)})
    assert response.status_code == 431


@pytest.mark.parametrize("body", [
    pytest.param(b'3\r\n{"ab\r\n0\r\n\r\n', id="chunk shorter than its size"),
    pytest.param(b'zz\r\n{"a"}\r\n0\r\n\r\n', id="chunk size not hex"),
])
def test_a_malformed_chunked_body_is_a_400_on_the_real_server(live_server, body):
    """Issue 13: a chunk shorter than its declared size was a 500 with a traceback in the log."""
    request = (b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:300]
    assert b'"error"' in answer
    assert "Traceback" not in live_server.log()
