"""Car lists without marshmallow, and the capped X-Total-Count (issue 5).

GET /api/cars and GET /api/admin/cars dump their cars with cms.schemas.cars.car_list_json
instead of CarListItemSchema (10,000 cars in a fraction of the time): these tests hold the
response next to what jsonify(CarListItemSchema(many=True).dump(...)) makes of the same rows,
byte for byte, with and without images, stored files, missing values and an active discount.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import jsonify

from cms import db
from cms.repositories import cars as cars_repo
from cms.schemas.cars import AdminCarListItemSchema, CarDetailSchema, CarListItemSchema
from cms.schemas.fields import UtcDateTime, utc_text
from cms.services import images as images_service
from cms.services import settings as settings_service


def add_image(factory, car, *, with_file=False, **columns):
    values = {"car_id": car["id"], "image_url": None, "is_primary": False, "display_order": 0, **columns}
    image = factory.row("car_images", **values)
    if with_file:
        factory.row("car_image_files", image_id=image["id"], content_type="image/jpeg", content=b"\xff\xd8\xff",
                    byte_size=3, width=200, height=150, etag=f"etag{image['id']}")
    return image


@pytest.fixture
def showroom(factory):
    """Cars covering every shape a list item can take."""
    seller = factory.user("seller")
    stamp = dt.datetime(2026, 3, 4, 5, 6, 7, 891234)
    stored = factory.car(seller, title="Stored file", price=19999.99, created_at=stamp, updated_at=stamp)
    add_image(factory, stored, with_file=True, is_primary=True)
    add_image(factory, stored, image_url="/images/second.png", display_order=1)
    # no primary image: the first by display order stands in
    linked = factory.car(seller, title="Linked", price=20000, created_at=stamp + dt.timedelta(seconds=1))
    add_image(factory, linked, image_url="https://cdn.example.com/b.png", display_order=3)
    add_image(factory, linked, image_url="https://cdn.example.com/a.png", display_order=2)
    # a data: URL left by the old server is never sent
    legacy = factory.car(seller, title="Légacy “quotes” \\ and \u00e9", price=0.5,
                         created_at=stamp + dt.timedelta(seconds=2))
    add_image(factory, legacy, image_url="data:image/png;base64,AAAA", is_primary=True)
    factory.car(seller, title="", price=7, description=None, brand=None, model=None, year=None,
                fuel_type=None, image="/images/car1.png", created_at=stamp + dt.timedelta(seconds=3))
    factory.car(seller, title="Rejected", status="rejected", rejection_reason="Blurry photos", price=123,
                created_at=stamp.replace(microsecond=0) + dt.timedelta(seconds=4))
    # the primary image wins over one that comes first by display order
    marked = factory.car(seller, title="Primary last", price=5000, created_at=stamp + dt.timedelta(seconds=5))
    add_image(factory, marked, image_url="/images/first.png", display_order=0)
    add_image(factory, marked, image_url="/images/primary.png", display_order=5, is_primary=True)
    return seller


def schema_body(app, path: str, schema) -> bytes:
    """What the list route sent before car_list_items: the marshmallow dump of the same rows."""
    with app.test_request_context(path):
        cars_list = cars_repo.list_cars(db.connection(), limit=None)
        runtime = settings_service.load(db.connection())
        cars = []
        for row in cars_list.rows:
            car = cars_repo.nest_primary_image(cars_list.columns, row)
            car["primary_image"] = images_service.with_public_url(car["primary_image"], "http://localhost")
            cars.append(settings_service.priced(car, runtime))
        return jsonify(schema.dump(cars)).get_data()


DISCOUNTS = {
    "no discount": None,
    "discount with a label": "UPDATE settings SET discount_percent = 12.5, discount_label = 'Spring sale'",
    "discount without a label": "UPDATE settings SET discount_percent = 7, discount_label = NULL",
}


@pytest.mark.parametrize("discount", sorted(DISCOUNTS))
@pytest.mark.parametrize("admin", [False, True], ids=["public list", "admin list"])
def test_the_car_list_is_the_schema_dump_byte_for_byte(discount, admin, app, client, factory, showroom, sql):
    if DISCOUNTS[discount]:
        sql.execute(DISCOUNTS[discount])
    path, schema, headers = "/api/cars", CarListItemSchema(many=True), {}
    if admin:
        path, schema = "/api/admin/cars", AdminCarListItemSchema(many=True)
        headers = factory.headers(factory.user("admin"))

    response = client.get(path, headers=headers)

    assert response.status_code == 200
    assert response.get_data() == schema_body(app, path, schema)
    cars = response.get_json()
    assert len(cars) == 6
    assert response.headers["X-Total-Count"] == "6"
    assert "X-Total-Count-Capped" not in response.headers
    by_title = {car["title"]: car for car in cars}
    stored = by_title["Stored file"]["primaryImage"]
    assert stored["imageUrl"] == f"http://localhost/api/cars/{stored['carId']}/images/{stored['id']}/file"
    assert by_title["Linked"]["primaryImage"]["imageUrl"] == "https://cdn.example.com/a.png"
    assert by_title["Primary last"]["primaryImage"]["imageUrl"] == "/images/primary.png"
    assert by_title["Légacy “quotes” \\ and \u00e9"]["primaryImage"]["imageUrl"] is None
    assert by_title[""]["primaryImage"] is None and by_title[""]["brand"] == "" and by_title[""]["year"] is None
    if discount == "discount with a label":
        assert (by_title["Linked"]["price"], by_title["Linked"]["originalPrice"]) == (17500, 20000)
        assert by_title["Linked"]["discountLabel"] == "Spring sale"
    elif discount == "discount without a label":
        assert by_title["Linked"]["discountLabel"] == "7% off"
    else:
        assert "originalPrice" not in by_title["Linked"]


def test_a_page_is_the_schema_dump_of_its_rows(app, client, showroom):
    response = client.get("/api/cars?sort=price_desc&limit=2&offset=1")

    cars = response.get_json()
    assert [car["title"] for car in cars] == ["Stored file", "Primary last"]
    rows = []
    with app.test_request_context("/api/cars"):
        cars_list = cars_repo.list_cars(db.connection(), sort="price_desc", limit=2, offset=1)
        for row in cars_list.rows:
            car = cars_repo.nest_primary_image(cars_list.columns, row)
            car["primary_image"] = images_service.with_public_url(car["primary_image"], "http://localhost")
            rows.append(car)
        expected = jsonify(CarListItemSchema(many=True).dump(rows)).get_data()
    assert response.get_data() == expected


@pytest.mark.parametrize("microsecond", [0, 1, 999, 1000, 120000, 800000, 891234, 999999])
def test_timestamps_printed_by_postgresql_become_what_utcdatetime_prints(microsecond, sql):
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, microsecond)
    text = sql.execute("SELECT %s::timestamp::text AS t", (stamp,)).fetchone()["t"]

    assert utc_text(text) == UtcDateTime()._serialize(stamp, "created_at", {})
    assert utc_text(stamp) == UtcDateTime()._serialize(stamp, "created_at", {})
    assert utc_text(None) is None


# --- X-Total-Count: exact up to a cap ------------------------------------------------------

@pytest.fixture
def cap_of_three(monkeypatch):
    monkeypatch.setattr(cars_repo, "COUNT_CAP", 3)


def six_cars(factory):
    seller = factory.user("seller")
    return [factory.car(seller, title=f"Sunroof car {n}") for n in range(6)]


@pytest.mark.parametrize(("query", "total", "capped", "page"), [
    ("limit=2", "3", True, 2),  # beyond the cap: the cap, and the header saying so
    ("limit=2&offset=3", "5", True, 2),  # never less than the end of the page asked for
    ("limit=4&offset=3", "6", False, 3),  # the cap is the end of the page: the count is exact
    ("", "6", False, 6),  # the whole list counts every car
    ("offset=2", "6", False, 4),
    ("offset=10", "6", False, 0),
    ("q=sunroof&offset=5", "6", False, 1),
    ("brand=Brand&limit=2", "3", True, 2),
    ("brand=Nothing&limit=2", "0", False, 0),
    ("q=sunroof&limit=2", "2", True, 2),  # a search counts up to the end of the page only
    ("q=sunroof&limit=2&offset=2", "4", True, 2),
    ("q=sunroof&limit=10", "6", False, 6),
    ("q=sunroof", "6", False, 6),
])
def test_the_total_count_is_exact_up_to_its_cap(query, total, capped, page, client, factory, cap_of_three):
    six_cars(factory)

    response = client.get(f"/api/cars?{query}")

    assert response.status_code == 200
    assert len(response.get_json()) == page
    assert response.headers["X-Total-Count"] == total
    assert response.headers.get("X-Total-Count-Capped") == ("true" if capped else None)


def test_the_service_counts_a_hundred_matches_and_no_more(client, factory, sql):
    # The count must cost less than the page (docs/routes.md): 101 rows of cars, where 1,001 cost
    # four pages at 10k (bench generic-plan table).
    seller = factory.user("seller")
    sql.execute(
        "INSERT INTO cars (title, price, description, seller_id, status, brand, model, year, fuel_type)"
        " SELECT 'Sunroof car ' || n, 10000 + n, 'A fine car', %s, 'available', 'Brand', 'Model', 2020,"
        " 'Gasoline' FROM generate_series(1, 105) AS n",
        (seller["id"],),
    )

    first = client.get("/api/cars?limit=20")
    near_the_end = client.get("/api/cars?limit=20&offset=90")
    search = client.get("/api/cars?q=sunroof&limit=20&offset=40")

    assert (first.headers["X-Total-Count"], first.headers.get("X-Total-Count-Capped")) == ("100", "true")
    assert (near_the_end.headers["X-Total-Count"], near_the_end.headers.get("X-Total-Count-Capped")) == ("105", None)
    assert len(near_the_end.get_json()) == 15
    # A search counts only up to the end of the page asked for.
    assert (search.headers["X-Total-Count"], search.headers.get("X-Total-Count-Capped")) == ("60", "true")


def test_the_capped_header_is_readable_by_the_browser(client, factory, cap_of_three):
    six_cars(factory)

    response = client.get("/api/cars?limit=1", headers={"Origin": "https://shop.example.com"})

    exposed = {name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Total-Count", "X-Total-Count-Capped", "Link"} <= exposed


# --- the detail: one statement, one schema instance for every request ----------------------

def test_the_detail_has_the_images_the_image_list_has(client, factory):
    car = factory.car(factory.user("seller"))
    add_image(factory, car, with_file=True, display_order=1)
    add_image(factory, car, image_url="/images/a.png", display_order=0, is_primary=True)
    add_image(factory, car, image_url="data:image/png;base64,AAAA", display_order=2)

    detail = client.get(f"/api/cars/{car['id']}").get_json()

    assert detail["images"] == client.get(f"/api/cars/{car['id']}/images").get_json()
    assert [image["displayOrder"] for image in detail["images"]] == [0, 1, 2]
    assert detail["images"][2]["imageUrl"] is None


@pytest.mark.parametrize("discount", sorted(DISCOUNTS))
def test_the_detail_is_the_schema_dump_byte_for_byte(discount, app, client, factory, showroom, sql):
    if DISCOUNTS[discount]:
        sql.execute(DISCOUNTS[discount])
    buyers = [factory.user("user") for _ in range(3)]
    for car in sql.execute("SELECT id FROM cars ORDER BY id").fetchall():
        for rating, buyer in zip((5, 4, 4)[: car["id"] % 4], buyers, strict=False):
            factory.row("reviews", car_id=car["id"], user_id=buyer["id"], user_name="B", rating=rating, comment="ok")
        path = f"/api/cars/{car['id']}"
        with app.test_request_context(path):
            conn = db.connection()
            row = cars_repo.get_car_detail(conn, car["id"])
            row["images"] = images_service.with_public_urls(row["images"], "http://localhost")
            car_shown = settings_service.priced(row, settings_service.load(conn))
            expected = jsonify(CarDetailSchema().dump(car_shown)).get_data()

        assert client.get(path).get_data() == expected


def test_the_detail_follows_a_discount_switched_on_and_off(client, factory, sql):
    car = factory.car(factory.user("seller"), price=20000)
    assert "originalPrice" not in client.get(f"/api/cars/{car['id']}").get_json()

    sql.execute("UPDATE settings SET discount_percent = 10, discount_label = 'Sale'")
    discounted = client.get(f"/api/cars/{car['id']}").get_json()
    sql.execute("UPDATE settings SET discount_percent = 0")
    plain = client.get(f"/api/cars/{car['id']}").get_json()

    assert (discounted["price"], discounted["originalPrice"], discounted["discountLabel"]) == (18000, 20000, "Sale")
    assert plain["price"] == 20000 and "originalPrice" not in plain


def test_in_debug_mode_the_list_is_indented_like_jsonify(make_app, factory, showroom):
    application = make_app()
    application.debug = True

    response = application.test_client().get("/api/cars")

    assert response.get_data() == schema_body(application, "/api/cars", CarListItemSchema(many=True))
    assert b'\n  {\n    "id": ' in response.get_data()
