"""GET /api/cars/:id beneath Flask (cms/api/car_detail_lane.py): the same answers as the route,
and Flask's for everything the lane leaves to it."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
from flask import request_started

from cms.api.car_detail_lane import CarDetailLane


@contextmanager
def flask_requests(app):
    """The requests Flask itself handled while in the block."""
    seen = []

    def note(sender, **_):
        seen.append(sender)

    request_started.connect(note, app)
    try:
        yield seen
    finally:
        request_started.disconnect(note, app)


@pytest.fixture
def cars(factory):
    seller = factory.user("seller")
    plain = factory.car(seller, title="Plain", price=19999.99)
    pictured = factory.car(seller, title="Pictured “quotes” \\ é", description=None, brand=None)
    factory.row("car_images", car_id=pictured["id"], image_url="/images/a.png", is_primary=True, display_order=0)
    factory.row("car_images", car_id=pictured["id"], image_url="https://cdn.example.com/b.png", display_order=1)
    stored = factory.row("car_images", car_id=pictured["id"], image_url=None, display_order=2)
    factory.row("car_image_files", image_id=stored["id"], content_type="image/jpeg", content=b"\xff\xd8\xff",
                byte_size=3, width=200, height=150, etag="etag-stored")
    reviewed = factory.car(seller, title="Reviewed")
    for stars in (4, 5):
        factory.row("reviews", car_id=reviewed["id"], user_id=factory.user()["id"], user_name="Buyer",
                    rating=stars, comment="ok")
    big = factory.car(seller, title="Big", description="x" * 2000)  # compressed when asked
    return {"plain": plain, "pictured": pictured, "reviewed": reviewed, "big": big}


def answer(client, path, headers):
    """Status, body and every header (names and values, each as often as sent)."""
    response = client.get(path, headers={"X-Request-Id": "same-id", **headers})
    return response.status_code, response.get_data(), sorted(response.headers.items())


@pytest.mark.parametrize("origins", [("*",), ("http://front.example", "http://b.example")])
@pytest.mark.parametrize("discount", [None, "UPDATE settings SET discount_percent = 12.5, discount_label = 'Sale'"])
def test_the_lane_answers_what_the_route_answers(discount, origins, make_app, cars, sql):
    if discount:
        sql.execute(discount)
    lane = make_app(cors_origins=origins)
    alone = make_app(cors_origins=origins, car_detail_lane=False)  # every request through Flask and the route
    variants = [{}, {"Origin": "http://front.example"}, {"Origin": "http://evil.example"}, {"Accept-Encoding": "gzip"},
                {"Accept-Encoding": "gzip;q=0"}, {"Host": "Shop.Example:8443"}, {"Origin": "http://b.example",
                                                                                   "Accept-Encoding": "gzip, br"}]
    for car in cars.values():
        etag = alone.test_client().get(f"/api/cars/{car['id']}").headers["ETag"]
        for path in (f"/api/cars/{car['id']}", f"/api/cars/{car['id']}/", f"/api/cars/000{car['id']}"):
            for headers in [*variants, {"If-None-Match": etag}, {"If-None-Match": f'"x", {etag}', "Origin": "http://b.example"},
                            {"If-None-Match": 'W/"1-stale"'}]:
                assert answer(lane.test_client(), path, headers) == answer(alone.test_client(), path, headers)
    body = lane.test_client().get(f"/api/cars/{cars['reviewed']['id']}").get_json()
    assert (body["averageRating"], body["reviewCount"]) == (4.5, 2)
    assert ("originalPrice" in body) == bool(discount)


def test_an_anonymous_detail_is_answered_without_flask(app, client, cars, caplog):
    with flask_requests(app) as handled, caplog.at_level(logging.INFO, logger="cms.request"):
        response = client.get(f"/api/cars/{cars['pictured']['id']}", headers={"X-Request-Id": "lane-1"})
    assert response.status_code == 200
    images = [image["imageUrl"] for image in response.get_json()["images"]]
    assert images[:2] == ["/images/a.png", "https://cdn.example.com/b.png"]
    assert images[2].startswith("http://localhost/api/")  # a stored file: the request's base URL
    assert handled == []
    [line] = [record.getMessage() for record in caplog.records if record.name == "cms.request"]
    assert line.startswith(f"request method=GET path=/api/cars/{cars['pictured']['id']} status=200 duration_ms=")
    assert line.endswith(" request_id=lane-1 user_id=-")


@pytest.mark.parametrize("lane", [True, False])
def test_car_detail_lane_false_sends_every_detail_through_flask(lane, make_app, cars):
    app = make_app(car_detail_lane=lane)
    layers, wsgi = [], app.wsgi_app
    while wsgi is not None:
        layers.append(type(wsgi))
        wsgi = getattr(wsgi, "wsgi_app", None)
    with flask_requests(app) as handled:
        response = app.test_client().get(f"/api/cars/{cars['plain']['id']}")
    assert response.status_code == 200 and response.get_json()["title"] == "Plain"
    assert (CarDetailLane in layers, len(handled)) == ((True, 0) if lane else (False, 1))


def test_what_the_lane_leaves_to_flask(app, client, factory, cars, sql):
    car_id = cars["plain"]["id"]
    admin = factory.user("admin")
    cases = [
        ("GET", f"/api/cars/{car_id}", factory.headers(admin), 200),  # a signed-in caller
        ("GET", "/api/cars/999999999", {}, 404),  # an unknown car: Flask's 404 (the lane's lookup handed on)
        ("GET", "/api/cars/0", {}, 400),  # not an id
        ("GET", "/api/cars/99999999999", {}, 400),  # past int4
        ("HEAD", f"/api/cars/{car_id}", {}, 200),
        ("GET", f"/api/cars/{car_id}", {"X-Long": "x" * 9000}, 431),  # a size check fails
    ]
    for method, path, headers, status in cases:
        with flask_requests(app) as handled:
            response = client.open(path, method=method, headers=headers)
        assert response.status_code == status, (method, path)
        assert handled == [app], (method, path)

    sql.execute("UPDATE settings SET maintenance_enabled = true, maintenance_message = 'Back soon'")
    app.extensions.pop("cms.settings_cache", None)  # read the settings now, not in CACHE_SECONDS
    with flask_requests(app) as handled:
        response = client.get(f"/api/cars/{car_id}")
    assert handled == [app]
    assert (response.status_code, response.get_json()["error"]) == (503, "Back soon")


@pytest.mark.parametrize("failure", ["database", "pool", "unexpected"])
def test_a_failure_is_answered_by_flask_once(failure, app, client, cars, monkeypatch):
    import psycopg
    from psycopg_pool import PoolTimeout

    from cms.services import cars as cars_service

    error = {"database": psycopg.OperationalError("the server closed the connection"),
             "pool": PoolTimeout("couldn't get a connection after 3.00 sec"),
             "unexpected": RuntimeError("a bug")}[failure]
    calls = []

    def fails(*args, **kwargs):
        calls.append(args)
        raise error

    monkeypatch.setattr(cars_service, "get_car", fails)
    pool = app.extensions["cms.pool"]
    with flask_requests(app) as handled:
        response = client.get(f"/api/cars/{cars['plain']['id']}")
    assert handled == [app]
    assert len(calls) == 1  # the lane's attempt; Flask answers its error without running it again
    assert response.status_code == (500 if failure == "unexpected" else 503)
    assert response.is_json and response.get_json()["error"]
    assert pool.get_stats()["pool_size"] - pool.get_stats().get("pool_available", 0) == 0  # all returned


def test_an_unknown_car_is_looked_up_once(app, client, monkeypatch):
    from cms.repositories import cars as cars_repo

    lookups = []
    original = cars_repo.get_car_detail
    monkeypatch.setattr(cars_repo, "get_car_detail", lambda *args: lookups.append(args) or original(*args))
    response = client.get("/api/cars/999999999")
    assert (response.status_code, response.is_json) == (404, True)
    assert len(lookups) == 1


def test_allowed_hosts_are_checked_before_the_lane_answers(make_app, cars):
    app = make_app(allowed_hosts=("shop.example",))
    with flask_requests(app) as handled:
        refused = app.test_client().get(f"/api/cars/{cars['plain']['id']}", headers={"Host": "evil.example"})
        allowed = app.test_client().get(f"/api/cars/{cars['plain']['id']}", headers={"Host": "shop.example"})
    assert refused.status_code == 400 and refused.is_json
    assert allowed.status_code == 200
    assert handled == [app]  # only the refused one


def test_the_lane_answers_an_allowed_host_in_any_case_and_the_star_form(make_app, cars):
    app = make_app(allowed_hosts=("shop.example", "*.shop.example"))
    path = f"/api/cars/{cars['plain']['id']}"
    with flask_requests(app) as handled:
        answers = [app.test_client().get(path, headers={"Host": host}).status_code
                   for host in ("SHOP.example", "eu.shop.example", "EU.Shop.Example", "evil.example")]
    assert answers == [200, 200, 200, 400]
    assert handled == [app]  # only the refused one
