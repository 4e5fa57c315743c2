"""GET /api/cars/:id beneath Flask (cms/api/car_detail_lane.py): the same answers as the route,
and Flask's for everything the lane leaves to it."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
from flask import request_started

from cms.api.car_detail_lane import CarDetailLane

HEADERS = ("Content-Type", "Content-Length", "X-Content-Type-Options", "X-Request-Id", "Access-Control-Allow-Origin",
           "Access-Control-Expose-Headers", "Vary", "Content-Encoding", "Cache-Control")


def flask_alone(app):
    """The same app without the lane: every request goes through Flask and the route."""
    assert isinstance(app.wsgi_app, CarDetailLane)
    app.wsgi_app = app.wsgi_app.wsgi_app
    return app


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
    reviewed = factory.car(seller, title="Reviewed")
    for stars in (4, 5):
        factory.row("reviews", car_id=reviewed["id"], user_id=factory.user()["id"], user_name="Buyer",
                    rating=stars, comment="ok")
    big = factory.car(seller, title="Big", description="x" * 2000)  # compressed when asked: Flask's
    return {"plain": plain, "pictured": pictured, "reviewed": reviewed, "big": big}


def answer(client, path, headers):
    response = client.get(path, headers={"X-Request-Id": "same-id", **headers})
    return response.status_code, response.get_data(), {name: response.headers.getlist(name) for name in HEADERS}


@pytest.mark.parametrize("discount", [None, "UPDATE settings SET discount_percent = 12.5, discount_label = 'Sale'"])
def test_the_lane_answers_what_the_route_answers(discount, make_app, cars, sql):
    if discount:
        sql.execute(discount)
    lane = make_app()
    alone = flask_alone(make_app())
    variants = [{}, {"Origin": "http://front.example"}, {"Accept-Encoding": "gzip"}]
    for car in cars.values():
        for path in (f"/api/cars/{car['id']}", f"/api/cars/{car['id']}/", f"/api/cars/000{car['id']}"):
            for headers in variants:
                assert answer(lane.test_client(), path, headers) == answer(alone.test_client(), path, headers)
    body = lane.test_client().get(f"/api/cars/{cars['reviewed']['id']}").get_json()
    assert (body["averageRating"], body["reviewCount"]) == (4.5, 2)
    assert ("originalPrice" in body) == bool(discount)


def test_an_anonymous_detail_is_answered_without_flask(app, client, cars, caplog):
    with flask_requests(app) as handled, caplog.at_level(logging.INFO, logger="cms.request"):
        response = client.get(f"/api/cars/{cars['pictured']['id']}", headers={"X-Request-Id": "lane-1"})
    assert response.status_code == 200
    images = [image["imageUrl"] for image in response.get_json()["images"]]
    assert images == ["/images/a.png", "https://cdn.example.com/b.png"]
    assert handled == []
    [line] = [record.getMessage() for record in caplog.records if record.name == "cms.request"]
    assert line.startswith(f"request method=GET path=/api/cars/{cars['pictured']['id']} status=200 duration_ms=")
    assert line.endswith(" request_id=lane-1 user_id=-")


def test_what_the_lane_leaves_to_flask(app, client, factory, cars, sql):
    car_id = cars["plain"]["id"]
    admin = factory.user("admin")
    cases = [
        ("GET", f"/api/cars/{car_id}", factory.headers(admin), 200),  # a signed-in caller
        ("GET", "/api/cars/999999999", {}, 404),  # an unknown car: Flask's 404
        ("GET", "/api/cars/0", {}, 400),  # not an id
        ("GET", "/api/cars/99999999999", {}, 400),  # past int4
        ("GET", f"/api/cars/{cars['big']['id']}", {"Accept-Encoding": "gzip"}, 200),  # compressed
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


def test_a_database_error_is_flasks_to_answer(app, client, cars, monkeypatch):
    import psycopg

    from cms.services import cars as cars_service

    def fails(*args, **kwargs):
        raise psycopg.OperationalError("the server closed the connection")

    monkeypatch.setattr(cars_service, "get_car", fails)
    with flask_requests(app) as handled:
        response = client.get(f"/api/cars/{cars['plain']['id']}")
    assert handled == [app]
    assert response.status_code == 503
    assert response.is_json


def test_allowed_hosts_are_checked_before_the_lane_answers(make_app, cars):
    app = make_app(allowed_hosts=("shop.example",))
    with flask_requests(app) as handled:
        refused = app.test_client().get(f"/api/cars/{cars['plain']['id']}", headers={"Host": "evil.example"})
        allowed = app.test_client().get(f"/api/cars/{cars['plain']['id']}", headers={"Host": "shop.example"})
    assert refused.status_code == 400 and refused.is_json
    assert allowed.status_code == 200
    assert handled == [app]  # only the refused one
