"""Cars — /api/cars: list (primaryImage, filters, search, sort, paging), detail, create, edit, delete."""

from __future__ import annotations

import datetime as dt
import re

import psycopg
import pytest
from support.app import BAD_ID, error_of

CAR_FIELDS = {
    "id", "title", "price", "description", "sellerId", "status", "brand", "model", "year", "fuelType",
    "image", "createdAt", "updatedAt",
}
IMAGE_FIELDS = {"id", "carId", "imageUrl", "isPrimary", "displayOrder", "createdAt", "updatedAt"}
NEW_CAR = {
    "title": "Aura GT-S Concept",
    "price": 185000,
    "description": "An electric grand tourer",
    "brand": "Aura",
    "model": "GT-S",
    "year": 2024,
    "fuelType": "Electric",
    "image": "/images/car1.png",
}


def add_image(factory, car, *, with_file=True, **columns):
    """An image row of the car; with_file stores a few bytes in car_image_files as uploads do."""
    values = {"car_id": car["id"], "image_url": None, "is_primary": False, "display_order": 0, **columns}
    image = factory.row("car_images", **values)
    if with_file:
        factory.row("car_image_files", image_id=image["id"], content_type="image/jpeg", content=b"\xff\xd8jpeg",
                    byte_size=6, width=100, height=100, etag="e" * 64)
    return image


def by_id(cars):
    return {car["id"]: car for car in cars}


# --- GET /api/cars -----------------------------------------------------------------

def test_list_returns_every_listing_anonymously_whatever_its_status(client, factory):
    seller = factory.user("seller")
    cars = [factory.car(seller, status=status) for status in ("pending", "available", "reserved", "sold", "rejected")]

    response = client.get("/api/cars")

    assert response.status_code == 200
    body = response.get_json()
    assert sorted(car["id"] for car in body) == sorted(car["id"] for car in cars)
    assert response.headers["X-Total-Count"] == "5"


def test_list_item_has_every_car_field_and_a_null_primary_image_without_images(client, factory):
    seller = factory.user("seller")
    car = factory.car(seller, title="Mountain Defender Pro", price=74900, description="Rugged", brand="Defender",
                      model="Pro", year=2023, fuel_type="Gasoline", image="/images/car2.png")

    [item] = client.get("/api/cars").get_json()

    assert set(item) == CAR_FIELDS | {"primaryImage"}
    assert item["id"] == car["id"]
    assert item["title"] == "Mountain Defender Pro"
    assert item["price"] == 74900 and isinstance(item["price"], int)
    assert item["description"] == "Rugged"
    assert item["sellerId"] == seller["id"]
    assert item["status"] == "available"
    assert (item["brand"], item["model"], item["year"], item["fuelType"]) == ("Defender", "Pro", 2023, "Gasoline")
    assert item["image"] == "/images/car2.png"
    assert item["createdAt"].endswith("Z") and item["updatedAt"].endswith("Z")
    assert item["primaryImage"] is None


def test_list_sends_empty_strings_for_missing_title_description_and_brand(client, factory, sql):
    car = factory.car(factory.user("seller"), description=None, brand=None)
    sql.execute("UPDATE cars SET title = '' WHERE id = %s", (car["id"],))

    [item] = client.get("/api/cars").get_json()

    assert (item["title"], item["description"], item["brand"]) == ("", "", "")


def test_list_primary_image_is_the_marked_one_with_an_absolute_file_url(client, factory):
    seller = factory.user("seller")
    car = factory.car(seller)
    add_image(factory, car, display_order=0)
    primary = add_image(factory, car, display_order=1, is_primary=True)

    [item] = client.get("/api/cars").get_json()

    image = item["primaryImage"]
    assert set(image) == IMAGE_FIELDS
    assert image["id"] == primary["id"]
    assert image["carId"] == car["id"]
    assert image["isPrimary"] is True
    assert image["displayOrder"] == 1
    assert image["imageUrl"] == f"http://localhost/api/cars/{car['id']}/images/{primary['id']}/file"
    assert image["createdAt"].endswith("Z")


def test_list_keeps_plain_image_links_and_never_carries_image_bytes(client, factory):
    seller = factory.user("seller")
    linked = factory.car(seller)
    add_image(factory, linked, with_file=False, image_url="/images/car1.png", is_primary=True)
    leftover = factory.car(seller)
    # A data: URL that migration 0008 could not decode stays in the table but never reaches a list.
    add_image(factory, leftover, with_file=False, image_url="data:image/png;base64,@@@" + "A" * 5000,
              is_primary=True)

    response = client.get("/api/cars")

    cars = by_id(response.get_json())
    assert cars[linked["id"]]["primaryImage"]["imageUrl"] == "/images/car1.png"
    assert cars[leftover["id"]]["primaryImage"]["imageUrl"] is None
    assert b"data:" not in response.data


def test_list_falls_back_to_the_first_image_when_none_is_primary(client, factory):
    car = factory.car(factory.user("seller"))
    add_image(factory, car, display_order=3)
    first = add_image(factory, car, display_order=1)

    [item] = client.get("/api/cars").get_json()

    assert item["primaryImage"]["id"] == first["id"]


def test_list_image_urls_use_the_configured_public_base_url(make_app, factory):
    car = factory.car(factory.user("seller"))
    image = add_image(factory, car, is_primary=True)
    client = make_app(public_base_url="https://cms.example.com").test_client()

    [item] = client.get("/api/cars").get_json()

    assert item["primaryImage"]["imageUrl"] == f"https://cms.example.com/api/cars/{car['id']}/images/{image['id']}/file"


CAR_TABLES = re.compile(r"\b(cars|car_images|car_image_files|car_list_rows)\b")


def car_statements(client, monkeypatch, path):
    """The statements psycopg sends about cars or their images while the app answers `path`.

    Other statements (the pool's liveness check, a settings cache refreshed now and then) are left out:
    they do not depend on the cars either, but come and go with time.
    """
    statements = []
    original = psycopg.Cursor.execute

    def spy(cursor, query, *args, **kwargs):
        statements.append(str(query))
        return original(cursor, query, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.Cursor, "execute", spy)
        response = client.get(path)
    assert response.status_code == 200
    return [statement for statement in statements if CAR_TABLES.search(statement)], response


@pytest.mark.parametrize(("path", "statements"), [("/api/cars", 3), ("/api/cars?limit=50&sort=price_desc&q=car", 2)])
def test_listing_cars_issues_as_many_statements_for_3_as_for_30_cars(client, factory, monkeypatch, path, statements):
    seller = factory.user("seller")
    for _ in range(3):
        add_image(factory, factory.car(seller, title="Car for sale"), is_primary=True)
    few, response = car_statements(client, monkeypatch, path)
    assert len(response.get_json()) == 3

    for _ in range(27):
        add_image(factory, factory.car(seller, title="Car for sale"), is_primary=True)
    many, response = car_statements(client, monkeypatch, path)
    assert len(response.get_json()) == 30
    assert all(car["primaryImage"] is not None for car in response.get_json())

    # The same statements whatever the number of cars: a page near the start is its ids (which
    # count the matches up to the cap) and their rows with the primary images; the whole list is
    # counted once and then read in batches (cms.services.cars.STREAM_BATCH_ROWS cars each).
    assert len(few) == len(many) == statements


LIST_FILTER_CASES = [
    ("brand=aura", {"aura"}),
    ("brand=AURA", {"aura"}),
    ("model=defender%20pro", {"defender"}),
    ("fuelType=electric", {"aura", "lunar"}),
    ("status=pending", {"lunar"}),
    ("minPrice=90000", {"aura", "lunar"}),
    ("maxPrice=92000", {"defender", "lunar"}),
    ("minPrice=74900&maxPrice=74900", {"defender"}),
    ("minYear=2024", {"aura", "lunar"}),
    ("maxYear=2023", {"defender"}),
    ("fuelType=Electric&maxPrice=100000.50", {"lunar"}),
    ("brand=Nobody", set()),
]


def test_list_filters(client, factory, subtests):
    seller = factory.user("seller")
    cars = {
        "aura": factory.car(seller, brand="Aura", model="GT-S", price=185000, year=2024, fuel_type="Electric"),
        "defender": factory.car(seller, brand="Mountain", model="Defender Pro", price=74900, year=2023,
                                fuel_type="Gasoline"),
        "lunar": factory.car(seller, brand="Lunar", model="Lucid", price=92000, year=2024, fuel_type="Electric",
                             status="pending"),
    }
    names = {car["id"]: name for name, car in cars.items()}

    for query, expected in LIST_FILTER_CASES:
        with subtests.test(query=query):
            response = client.get(f"/api/cars?{query}")

            assert response.status_code == 200
            assert {names[car["id"]] for car in response.get_json()} == expected
            assert response.headers["X-Total-Count"] == str(len(expected))


def test_list_filters_by_seller(client, factory):
    first, second = factory.user("seller"), factory.user("seller")
    mine = factory.car(first)
    factory.car(second)

    body = client.get(f"/api/cars?sellerId={first['id']}").get_json()

    assert [car["id"] for car in body] == [mine["id"]]


SEARCH_CASES = [
    ("electric", {"aura", "lunar"}),
    ("Electric", {"aura", "lunar"}),
    ("elec", {"aura", "lunar"}),
    ("aura concept", {"aura"}),
    ("gt-s", {"aura"}),
    ("defenders", {"defender"}),
    ("luc", {"lunar"}),
    ("electric defender", set()),
    ("diesel", set()),
]


def test_search_matches_words_and_prefixes_with_english_stemming(client, factory, subtests):
    seller = factory.user("seller")
    cars = {
        "aura": factory.car(seller, title="Aura GT-S Concept", brand="Aura", model="GT-S",
                            description="A fully electric grand tourer"),
        "defender": factory.car(seller, title="Mountain Defender Pro", brand="Defender", model="Pro",
                                description="Rugged and ready"),
        "lunar": factory.car(seller, title="Lunar Lucid Sedan", brand="Lunar", model="Lucid",
                             description="Electric comfort for the family"),
    }
    names = {car["id"]: name for name, car in cars.items()}

    for q, expected in SEARCH_CASES:
        with subtests.test(q=q):
            response = client.get("/api/cars", query_string={"q": q})

            assert response.status_code == 200
            assert {names[car["id"]] for car in response.get_json()} == expected


def test_relevance_sort_puts_title_matches_first(client, factory):
    seller = factory.user("seller")
    in_description = factory.car(seller, title="Family sedan", description="Quiet electric motor")
    in_title = factory.car(seller, title="Electric roadster", description="Fast")

    body = client.get("/api/cars?q=electric&sort=relevance").get_json()

    assert [car["id"] for car in body] == [in_title["id"], in_description["id"]]


SORT_CASES = [
    ("newest", ["c", "b", "a"]),
    ("oldest", ["a", "b", "c"]),
    ("price_asc", ["b", "c", "a"]),
    ("price_desc", ["a", "c", "b"]),
    ("year_asc", ["c", "a", "b"]),
    ("year_desc", ["b", "a", "c"]),
    (None, ["c", "b", "a"]),
]


def test_list_sorts(client, factory, subtests):
    seller = factory.user("seller")
    start = dt.datetime(2024, 1, 1)
    cars = {
        "a": factory.car(seller, price=30000, year=2020, created_at=start),
        "b": factory.car(seller, price=10000, year=2022, created_at=start + dt.timedelta(days=1)),
        "c": factory.car(seller, price=20000, year=2018, created_at=start + dt.timedelta(days=2)),
    }
    names = {car["id"]: name for name, car in cars.items()}

    for sort, expected in SORT_CASES:
        with subtests.test(sort=sort):
            body = client.get("/api/cars", query_string={"sort": sort} if sort else {}).get_json()

            assert [names[car["id"]] for car in body] == expected


def test_list_pages_with_limit_and_offset_and_counts_every_match(client, factory):
    seller = factory.user("seller")
    cars = [factory.car(seller, price=1000 + index) for index in range(5)]

    response = client.get("/api/cars?sort=price_asc&limit=2&offset=2")

    assert response.status_code == 200
    assert [car["id"] for car in response.get_json()] == [cars[2]["id"], cars[3]["id"]]
    assert response.headers["X-Total-Count"] == "5"


def test_a_page_past_the_end_is_empty_but_still_counts_the_matches(client, factory):
    seller = factory.user("seller")
    for _ in range(3):
        factory.car(seller, brand="Aura")
    factory.car(seller, brand="Other")

    response = client.get("/api/cars?brand=aura&limit=10&offset=10")

    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "3"


def test_an_empty_list_is_an_empty_array_with_a_zero_count(client):
    response = client.get("/api/cars")

    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"


def test_blank_query_parameters_are_ignored(client, factory):
    factory.car(factory.user("seller"))

    response = client.get("/api/cars?q=&brand=&status=&limit=&sort=")

    assert response.status_code == 200
    assert len(response.get_json()) == 1


INVALID_LIST_QUERIES = [
    "limit=0", "limit=101", "limit=ten", "limit=2.5", "offset=-1", "offset=x", "minPrice=cheap", "maxPrice=-5",
    "minYear=twenty", "maxYear=2020.5", "status=flying", "sort=random", "sort=price;DROP TABLE cars",
    "sellerId=abc", "sellerId=0", "q=" + "x" * 201,
]


def test_invalid_list_parameters_are_a_400(client, subtests):
    for query in INVALID_LIST_QUERIES:
        with subtests.test(query=query[:40]):
            response = client.get(f"/api/cars?{query}")

            assert response.status_code == 400
            assert response.get_json()["error"].startswith("Invalid input")


def test_a_deactivated_sellers_listings_leave_every_public_list_until_the_seller_is_reactivated(client, factory,
                                                                                                   sql):
    kept_seller, seller = factory.user("seller"), factory.user("seller")
    kept = factory.car(kept_seller, title="Kept Aura")
    hidden = [factory.car(seller, title="Hidden Aura"), factory.car(seller, title="Hidden Aura", status="pending")]

    sql.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (seller["id"],))
    for path in ("/api/cars", "/api/cars?limit=10", "/api/cars?q=aura&limit=10", "/api/cars?sort=price_asc&limit=5",
                 "/api/cars?q=aura&sort=relevance&limit=5", f"/api/cars?sellerId={seller['id']}&limit=10"):
        response = client.get(path)
        expected = [] if "sellerId" in path else [kept["id"]]
        assert [car["id"] for car in response.get_json()] == expected, path
        assert response.headers["X-Total-Count"] == str(len(expected)), path
    admin_list = client.get("/api/admin/cars?limit=10", headers=factory.headers(factory.user("admin")))
    assert len(admin_list.get_json()) == 3  # the admin still sees and manages them

    sql.execute("UPDATE users SET is_active = TRUE WHERE id = %s", (seller["id"],))
    response = client.get("/api/cars?limit=10")
    assert sorted(car["id"] for car in response.get_json()) == sorted([kept["id"], *(car["id"] for car in hidden)])


# --- GET /api/cars/:id -------------------------------------------------------------

def test_detail_has_images_in_display_order_and_the_rating_summary(client, factory):
    seller = factory.user("seller")
    car = factory.car(seller)
    second = add_image(factory, car, display_order=1)
    first = add_image(factory, car, display_order=0, is_primary=True)
    linked = add_image(factory, car, display_order=2, with_file=False, image_url="/images/car3.png")
    for rating in (4, 5, 5):
        factory.row("reviews", car_id=car["id"], user_id=factory.user()["id"], user_name="Buyer", rating=rating,
                    comment="ok")

    response = client.get(f"/api/cars/{car['id']}")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == CAR_FIELDS | {"images", "averageRating", "reviewCount"}
    assert body["id"] == car["id"] and body["sellerId"] == seller["id"]
    assert [image["id"] for image in body["images"]] == [first["id"], second["id"], linked["id"]]
    assert all(set(image) == IMAGE_FIELDS for image in body["images"])
    assert body["images"][0]["isPrimary"] is True
    assert body["images"][0]["imageUrl"] == f"http://localhost/api/cars/{car['id']}/images/{first['id']}/file"
    assert body["images"][2]["imageUrl"] == "/images/car3.png"
    assert body["averageRating"] == pytest.approx(4.67)
    assert body["reviewCount"] == 3


def test_detail_without_images_or_reviews(client, factory):
    car = factory.car(factory.user("seller"))

    body = client.get(f"/api/cars/{car['id']}").get_json()

    assert body["images"] == []
    assert body["averageRating"] is None
    assert body["reviewCount"] == 0


def test_detail_of_an_unknown_car_is_a_404(client):
    response = client.get("/api/cars/999")

    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found"}


def test_detail_with_a_non_numeric_or_out_of_range_id_is_a_400(client, subtests):
    for car_id in ("abc", "1.5", "-1", "99999999999"):
        with subtests.test(car_id=car_id):
            response = client.get(f"/api/cars/{car_id}")
            assert response.status_code == 400
            assert error_of(response) == "Invalid id in the URL: it must be a positive whole number"


def test_a_deactivated_sellers_car_and_its_reviews_are_not_found_until_the_seller_is_reactivated(client, factory,
                                                                                                  sql):
    seller = factory.user("seller")
    car = factory.car(seller)
    public_reads = {f"/api/cars/{car['id']}": "Not found", f"/api/reviews/car/{car['id']}": "Car not found"}

    sql.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (seller["id"],))
    for path, error in public_reads.items():
        response = client.get(path)
        assert (response.status_code, response.get_json()) == (404, {"error": error}), path

    sql.execute("UPDATE users SET is_active = TRUE WHERE id = %s", (seller["id"],))
    for path in public_reads:
        assert client.get(path).status_code == 200, path


# --- POST /api/cars ----------------------------------------------------------------

@pytest.mark.parametrize("role", ["seller", "admin"])
def test_create_makes_a_pending_listing_owned_by_the_caller(client, factory, sql, role):
    caller = factory.user(role)

    response = client.post("/api/cars", json=NEW_CAR, headers=factory.headers(caller))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == CAR_FIELDS
    assert body["status"] == "pending"
    assert body["sellerId"] == caller["id"]
    for key in ("title", "price", "description", "brand", "model", "year", "fuelType", "image"):
        assert body[key] == NEW_CAR[key]
    row = sql.execute("SELECT * FROM cars WHERE id = %s", (body["id"],)).fetchone()
    assert (row["status"], row["seller_id"], row["fuel_type"]) == ("pending", caller["id"], "Electric")


def test_create_ignores_status_and_seller_in_the_body(client, factory):
    seller, other = factory.user("seller"), factory.user("seller")

    body = client.post("/api/cars", json={**NEW_CAR, "status": "available", "sellerId": other["id"], "id": 77},
                       headers=factory.headers(seller)).get_json()

    assert body["status"] == "pending"
    assert body["sellerId"] == seller["id"]
    assert body["id"] != 77


def test_create_accepts_numbers_sent_as_strings_and_only_the_required_fields(client, factory):
    seller = factory.user("seller")

    response = client.post("/api/cars", json={"title": "Plain", "price": "12500.50", "year": "2021"},
                           headers=factory.headers(seller))

    assert response.status_code == 200
    body = response.get_json()
    assert (body["price"], body["year"]) == (12500.5, 2021)
    assert (body["description"], body["brand"], body["model"], body["fuelType"], body["image"]) == (
        "", "", None, None, None)


def test_create_as_a_buyer_is_forbidden(client, factory, sql):
    response = client.post("/api/cars", json=NEW_CAR, headers=factory.headers(factory.user("user")))

    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 0


def test_create_without_a_token_is_a_401(client):
    response = client.post("/api/cars", json=NEW_CAR)

    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


INVALID_CREATE_FIELDS = [
    ({"title": None}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x" * 256}, "title"),
    ({"title": 5}, "title"),
    ({"price": None}, "price"),
    ({"price": "abc"}, "price"),
    ({"price": -1}, "price"),
    ({"price": 100000000}, "price"),
    ({"price": 10.005}, "price"),
    ({"price": True}, "price"),
    ({"year": "abc"}, "year"),
    ({"year": 2024.5}, "year"),
    ({"year": 1500}, "year"),
    ({"year": 99999999999}, "year"),
    ({"fuelType": 3}, "fuelType"),
    ({"brand": "b" * 101}, "brand"),
    ({"image": ["a"]}, "image"),
]


def test_create_with_an_invalid_field_is_a_400_naming_it(client, factory, sql, subtests):
    headers = factory.headers(factory.user("seller"))
    for change, field in INVALID_CREATE_FIELDS:
        with subtests.test(change=change):
            response = client.post("/api/cars", json={**NEW_CAR, **change}, headers=headers)

            assert response.status_code == 400
            assert field in response.get_json()["details"]
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 0


def test_create_without_a_required_field_is_a_400(client, factory, subtests):
    headers = factory.headers(factory.user("seller"))
    for missing in ("title", "price"):
        with subtests.test(missing=missing):
            body = {key: value for key, value in NEW_CAR.items() if key != missing}

            response = client.post("/api/cars", json=body, headers=headers)

            assert response.status_code == 400
            assert missing in response.get_json()["details"]


def test_create_with_a_malformed_body_is_a_400(client, factory):
    response = client.post("/api/cars", data="{title:", content_type="application/json",
                           headers=factory.headers(factory.user("seller")))

    assert response.status_code == 400
    assert error_of(response) == "Malformed JSON body"


# --- PUT /api/cars/:id -------------------------------------------------------------

def test_owner_edits_some_fields_and_the_others_stay(client, factory, sql):
    seller = factory.user("seller")
    car = factory.car(seller, title="Old title", price=1000, brand="Aura", year=2020)

    response = client.put(f"/api/cars/{car['id']}", json={"title": "New title", "price": "2500.75", "year": 2021},
                          headers=factory.headers(seller))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == CAR_FIELDS
    assert (body["title"], body["price"], body["year"], body["brand"]) == ("New title", 2500.75, 2021, "Aura")
    row = sql.execute("SELECT title, price, year, brand FROM cars WHERE id = %s", (car["id"],)).fetchone()
    assert (row["title"], float(row["price"]), row["year"], row["brand"]) == ("New title", 2500.75, 2021, "Aura")


def test_edit_can_clear_optional_fields(client, factory):
    seller = factory.user("seller")
    car = factory.car(seller, image="/images/car1.png", year=2020)

    body = client.put(f"/api/cars/{car['id']}", json={"image": "", "year": None, "model": None},
                      headers=factory.headers(seller)).get_json()

    assert (body["image"], body["year"], body["model"]) == (None, None, None)


def test_edit_cannot_change_status_seller_id_or_timestamps(client, factory, sql):
    """Fix: the old server copied the whole body into the row (self-approval, hand-over)."""
    seller, other = factory.user("seller"), factory.user("seller")
    created = dt.datetime(2024, 1, 1, 12, 0)
    car = factory.car(seller, status="pending", created_at=created)

    response = client.put(f"/api/cars/{car['id']}", json={
        "title": "Still mine", "status": "available", "sellerId": other["id"], "seller_id": other["id"],
        "id": car["id"] + 100, "createdAt": "2000-01-01T00:00:00.000Z", "updatedAt": "2000-01-01T00:00:00.000Z",
        "primaryImage": None, "images": [],
    }, headers=factory.headers(seller))

    assert response.status_code == 200
    row = sql.execute("SELECT * FROM cars WHERE id = %s", (car["id"],)).fetchone()
    assert row["title"] == "Still mine"
    assert row["status"] == "pending"
    assert row["seller_id"] == seller["id"]
    assert row["created_at"] == created
    assert row["updated_at"] > created
    assert response.get_json()["status"] == "pending"
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 1


def test_admin_edits_any_listing(client, factory):
    car = factory.car(factory.user("seller"))

    response = client.put(f"/api/cars/{car['id']}", json={"price": 999}, headers=factory.headers(factory.user("admin")))

    assert response.status_code == 200
    assert response.get_json()["price"] == 999


def test_another_seller_cannot_edit_and_nothing_changes(client, factory, sql):
    car = factory.car(factory.user("seller"), title="Original")

    response = client.put(f"/api/cars/{car['id']}", json={"title": "Hijacked"},
                          headers=factory.headers(factory.user("seller")))

    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
    assert sql.execute("SELECT title FROM cars WHERE id = %s", (car["id"],)).fetchone()["title"] == "Original"


def test_a_buyer_cannot_edit(client, factory):
    car = factory.car(factory.user("seller"))

    response = client.put(f"/api/cars/{car['id']}", json={"title": "x"}, headers=factory.headers(factory.user()))

    assert response.status_code == 403
    assert error_of(response) == "Forbidden"


def test_edit_without_a_token_is_a_401(client, factory):
    car = factory.car(factory.user("seller"))

    assert client.put(f"/api/cars/{car['id']}", json={"title": "x"}).status_code == 401


def test_edit_of_an_unknown_car_is_a_404(client, factory):
    response = client.put("/api/cars/999", json={"title": "x"}, headers=factory.headers(factory.user("seller")))

    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found"}


def test_edit_with_a_non_numeric_path_id_is_a_400(client, factory):
    response = client.put("/api/cars/abc", json={"title": "x"}, headers=factory.headers(factory.user("seller")))

    assert response.status_code == 400
    assert error_of(response) == "Invalid id in the URL: it must be a positive whole number"


INVALID_EDIT_FIELDS = [
    ({"price": "abc"}, "price"),
    ({"price": None}, "price"),
    ({"year": "abc"}, "year"),
    ({"year": 2020.5}, "year"),
    ({"title": None}, "title"),
    ({"title": "  "}, "title"),
]


def test_edit_with_an_invalid_field_is_a_400_and_changes_nothing(client, factory, sql, subtests):
    """Fix: a non-numeric price or year is a 400."""
    seller = factory.user("seller")
    car = factory.car(seller, title="Kept", price=1000, year=2020)
    headers = factory.headers(seller)

    for change, field in INVALID_EDIT_FIELDS:
        with subtests.test(change=change):
            response = client.put(f"/api/cars/{car['id']}", json=change, headers=headers)

            assert response.status_code == 400
            assert field in response.get_json()["details"]
    row = sql.execute("SELECT title, price, year FROM cars WHERE id = %s", (car["id"],)).fetchone()
    assert (row["title"], row["price"], row["year"]) == ("Kept", 1000, 2020)


# --- DELETE /api/cars/:id ----------------------------------------------------------

def test_owner_removes_a_listing_and_its_images_go_with_it(client, factory, sql):
    seller = factory.user("seller")
    car = factory.car(seller)
    image = add_image(factory, car, is_primary=True)
    factory.row("favorites", user_id=factory.user()["id"], car_id=car["id"])

    response = client.delete(f"/api/cars/{car['id']}", headers=factory.headers(seller))

    assert response.status_code == 200
    assert response.get_json() == {"message": "Car listing removed"}
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 0
    assert sql.execute("SELECT count(*) AS n FROM car_images").fetchone()["n"] == 0
    assert sql.execute("SELECT count(*) AS n FROM car_image_files WHERE image_id = %s",
                       (image["id"],)).fetchone()["n"] == 0
    assert sql.execute("SELECT count(*) AS n FROM favorites").fetchone()["n"] == 0


def test_admin_removes_any_listing(client, factory):
    car = factory.car(factory.user("seller"))

    response = client.delete(f"/api/cars/{car['id']}", headers=factory.headers(factory.user("admin")))

    assert response.status_code == 200
    assert response.get_json() == {"message": "Car listing removed"}
    assert client.get(f"/api/cars/{car['id']}").status_code == 404


def test_a_listing_with_orders_is_not_removed_and_the_answer_is_a_409(client, factory, sql):
    """Fix: DELETE of a car that has orders must not fail with a 500."""
    seller = factory.user("seller")
    car = factory.car(seller)
    factory.row("orders", car_id=car["id"], buyer_id=factory.user()["id"], seller_id=seller["id"],
                final_price=1000, status="cancelled", documents=[])

    response = client.delete(f"/api/cars/{car['id']}", headers=factory.headers(seller))

    assert response.status_code == 409
    assert "order" in response.get_json()["error"]
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 1


def test_another_seller_cannot_remove_a_listing(client, factory, sql):
    car = factory.car(factory.user("seller"))

    response = client.delete(f"/api/cars/{car['id']}", headers=factory.headers(factory.user("seller")))

    assert response.status_code == 403
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 1


def test_a_buyer_cannot_remove_a_listing(client, factory):
    car = factory.car(factory.user("seller"))

    response = client.delete(f"/api/cars/{car['id']}", headers=factory.headers(factory.user()))

    assert (response.status_code, error_of(response)) == (403, "Forbidden")
    assert client.get(f"/api/cars/{car['id']}").status_code == 200


def test_remove_without_a_token_is_a_401(client, factory):
    car = factory.car(factory.user("seller"))

    response = client.delete(f"/api/cars/{car['id']}")

    assert response.status_code == 401
    assert error_of(response) == "No token"


def test_remove_of_an_unknown_car_is_a_404(client, factory):
    response = client.delete("/api/cars/999", headers=factory.headers(factory.user("admin")))

    assert response.status_code == 404
    assert error_of(response) == "Not found"


def test_remove_with_a_non_numeric_path_id_is_a_400(client, factory):
    response = client.delete("/api/cars/x1", headers=factory.headers(factory.user("admin")))

    assert (response.status_code, error_of(response)) == (400, BAD_ID)


def test_routes_accept_a_trailing_slash_like_the_old_server(client, factory):
    car = factory.car(factory.user("seller"))
    detail = client.get(f"/api/cars/{car['id']}/")
    images = client.get(f"/api/cars/{car['id']}/images/")
    listing = client.get("/api/cars/")

    assert (detail.status_code, images.status_code, listing.status_code) == (200, 200, 200)
    assert detail.get_json()["id"] == car["id"]
    assert images.get_json() == []
    assert [item["id"] for item in listing.get_json()] == [car["id"]]
