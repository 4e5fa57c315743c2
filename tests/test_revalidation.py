"""Revalidation of public reads: an ETag from the database's state on the car lists, a car, its
images and its reviews; 304 for If-None-Match without the read's own queries; a new ETag after any
change, made by the service or typed in psql."""

from __future__ import annotations

import time
import weakref

import psycopg
import pytest

from cms.db.queries import COMPOSED, QUERIES
from cms.services import revalidation as revalidation_service

PUBLIC_READS = ("/api/cars?limit=5", "/api/cars?sort=price_asc&brand=Brand&limit=5", "/api/cars",
                "/api/cars/{car}", "/api/cars/{car}/images", "/api/reviews/car/{car}")


@pytest.fixture
def car(factory):
    seller = factory.user("seller")
    car = factory.car(seller, title="Revalidated roadster")
    factory.row("reviews", car_id=car["id"], user_id=factory.user()["id"], user_name="Buyer", rating=5, comment="ok")
    factory.car(seller, title="Another")
    return car


def statement_names(monkeypatch):
    """The named (or composed) queries run through psycopg while the returned list is live."""
    names = []
    original = psycopg.Cursor.execute
    by_text = {item.sql: item.name for item in QUERIES.values()}

    def spy(cursor, query, *args, **kwargs):
        text = str(query)
        names.append(by_text.get(text) or (COMPOSED[text].name if text in COMPOSED else text))
        return original(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy)
    return names


@pytest.mark.parametrize("template", PUBLIC_READS)
def test_a_public_read_is_answered_304_to_its_own_validator_without_its_queries(template, client, car, monkeypatch):
    path = template.format(car=car["id"])
    first = client.get(path)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')

    names = statement_names(monkeypatch)
    again = client.get(path, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.get_data() == b""
    assert (again.headers["ETag"], again.headers["Cache-Control"]) == (etag, "no-cache")
    # The validator only, not the read's queries (the run-time settings are read at most once per
    # cache period, not per request).
    assert [name for name in names if name not in ("get_settings", "")] == ["data_version_current"]


# The whole list streams from a connection of its own (its validator is read as any read's).
@pytest.mark.parametrize("template", [template for template in PUBLIC_READS if template != "/api/cars"])
def test_a_200_may_carry_the_connection_s_recent_reading_never_a_304(template, make_app, car, sql, monkeypatch):
    monkeypatch.setattr(revalidation_service, "RECENT_SECONDS", 60.0)
    monkeypatch.setattr(revalidation_service, "_recent", weakref.WeakKeyDictionary())
    client = make_app(pool_min_size=1, pool_max_size=1).test_client()  # one connection: one reading
    path = template.format(car=car["id"])
    read = client.get(path).headers["ETag"]

    sql.execute("UPDATE cars SET title = 'Retitled roadster' WHERE id = %s", (car["id"],))
    names = statement_names(monkeypatch)
    after = client.get(path)

    # The change is sent, under the tag read before it: it names an older state than the data, so
    # the client's next revalidation downloads the answer again rather than keep an old one.
    assert after.status_code == 200 and after.headers["ETag"] == read
    assert "data_version_current" not in names
    if path.startswith("/api/cars") and "images" not in path:  # the reads that show the title
        assert b"Retitled roadster" in after.get_data()
    names.clear()
    revalidated = client.get(path, headers={"If-None-Match": read})
    assert revalidated.status_code == 200 and revalidated.headers["ETag"] != read
    assert "data_version_current" in names
    assert client.get(path, headers={"If-None-Match": revalidated.headers["ETag"]}).status_code == 304

    sql.execute("UPDATE cars SET title = 'Renamed again' WHERE id = %s", (car["id"],))
    monkeypatch.setattr(revalidation_service, "RECENT_SECONDS", 0.05)
    time.sleep(0.1)  # the connection's reading is older than the window: a 200 reads the counter
    assert client.get(path).headers["ETag"] not in (read, revalidated.headers["ETag"])


@pytest.mark.parametrize("change", [
    "UPDATE cars SET price = price + 1 WHERE id = {car}",
    "UPDATE users SET is_active = FALSE WHERE id = (SELECT seller_id FROM cars WHERE id = {car})",
    "UPDATE reviews SET rating = 1 WHERE car_id = {car}",
    "DELETE FROM car_images WHERE car_id = {car}",
    "UPDATE settings SET discount_percent = 10, discount_label = 'Sale'",
])
def test_a_change_typed_in_psql_changes_every_validator(change, client, car, sql):
    before = {template: client.get(template.format(car=car["id"])) for template in PUBLIC_READS}

    sql.execute(change.format(car=car["id"]))

    for template, old in before.items():
        fresh = client.get(template.format(car=car["id"]), headers={"If-None-Match": old.headers["ETag"]})
        assert fresh.status_code in (200, 404), template  # the seller's deactivation hides the car
        assert fresh.headers.get("ETag") != old.headers["ETag"], template


def test_the_service_s_own_write_is_seen_at_the_next_revalidation(client, factory, car):
    seller_headers = factory.headers(factory.user("seller"))
    listed = client.get("/api/cars")
    created = client.post("/api/cars", headers=seller_headers, json={"title": "Fresh listing", "price": 5000})
    assert created.status_code == 200

    after = client.get("/api/cars", headers={"If-None-Match": listed.headers["ETag"]})

    assert after.status_code == 200
    assert created.get_json()["id"] in [item["id"] for item in after.get_json()]


def test_a_write_to_what_no_public_read_shows_keeps_the_validators(client, factory, car, sql):
    etag = client.get("/api/cars?limit=5").headers["ETag"]
    buyer = factory.user()
    login = client.post("/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]})
    assert login.status_code == 200  # a login writes last_login and the security log

    assert client.get("/api/cars?limit=5", headers={"If-None-Match": etag}).status_code == 304


def test_the_validator_names_the_base_of_image_urls_and_a_star_matches(make_app, car):
    default = make_app().test_client()
    elsewhere = make_app(public_base_url="https://cdn.example.com").test_client()
    path = f"/api/cars/{car['id']}"

    assert default.get(path).headers["ETag"] != elsewhere.get(path).headers["ETag"]
    assert default.get(path, headers={"If-None-Match": "*"}).status_code == 304


def test_a_state_restored_from_before_keeps_its_tag_and_the_next_change_never_reuses_one(client, car, sql):
    # A failover that lost the last commits, or a restore of an older backup: the rows and the
    # counter go back together. The state as it was keeps the tag it had; the next change must
    # not get a tag already issued for another state (a client holding that one would get a 304).
    path = f"/api/cars/{car['id']}"
    before = client.get(path).headers["ETag"]
    version = sql.execute("SELECT version FROM data_version").fetchone()["version"]
    sql.execute("UPDATE cars SET price = 111 WHERE id = %s", (car["id"],))
    issued = client.get(path).headers["ETag"]

    sql.execute("UPDATE cars SET price = %s WHERE id = %s", (car["price"], car["id"]))  # the restore
    sql.execute("UPDATE data_version SET version = %s", (version,))
    assert client.get(path).headers["ETag"] == before

    sql.execute("UPDATE cars SET price = 222 WHERE id = %s", (car["id"],))
    after = client.get(path)
    assert after.headers["ETag"] not in (before, issued)
    assert client.get(path, headers={"If-None-Match": issued}).status_code == 200


def test_the_whole_list_is_sent_under_the_state_of_its_own_snapshot(client, car, sql, monkeypatch):
    # The validator read before the view (on a replica, when replicas serve reads) may name a state
    # the stream's snapshot on the primary does not show yet (a synchronous standby applies a
    # commit before the primary shows it): the whole list is sent under its snapshot's own.
    from cms.api import revalidation

    monkeypatch.setattr(revalidation, "current_tag", lambda conditional: "99999999999999999-ahead")
    version = sql.execute("SELECT version FROM data_version").fetchone()["version"]

    whole = client.get("/api/cars")
    page = client.get("/api/cars?limit=5")

    assert whole.status_code == 200 and whole.headers["ETag"].startswith(f'W/"{version}-')
    assert whole.headers.get_all("ETag") == [whole.headers["ETag"]]
    assert page.headers["ETag"] == 'W/"99999999999999999-ahead"'  # a page's validator is the one read before it
