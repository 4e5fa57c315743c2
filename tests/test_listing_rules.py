"""Rules the security review found missing (issue 13): a sold car is read-only to its seller,
nobody buys their own car, a review needs a public car that is not the reviewer's, and ids in
URLs are ASCII digits only."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from PIL import Image


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 150), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def seller(factory):
    return factory.user("seller")


def test_a_seller_cannot_edit_delete_or_add_images_to_a_sold_car(client, factory, sql, seller):
    car = factory.car(seller, status="sold", price=5000)
    headers = factory.headers(seller)

    edit = client.put(f"/api/cars/{car['id']}", json={"price": 1}, headers=headers)
    removal = client.delete(f"/api/cars/{car['id']}", headers=headers)
    upload = client.post(f"/api/cars/{car['id']}/images", headers=headers,
                         data={"images": (io.BytesIO(png_bytes()), "a.png")}, content_type="multipart/form-data")

    assert (edit.status_code, removal.status_code, upload.status_code) == (409, 409, 409)
    assert "sold" in edit.get_json()["error"]
    row = sql.execute("SELECT price, status FROM cars WHERE id = %s", [car["id"]]).fetchone()
    assert (row["price"], row["status"]) == (5000, "sold")
    assert sql.execute("SELECT count(*) AS n FROM car_images").fetchone()["n"] == 0


def test_an_admin_may_still_correct_a_sold_car_and_a_seller_edits_an_unsold_one(client, factory, seller):
    sold = factory.car(seller, status="sold")
    available = factory.car(seller, status="available")
    admin = factory.user("admin")

    fixed = client.put(f"/api/cars/{sold['id']}", json={"title": "Fixed"}, headers=factory.headers(admin))
    assert fixed.status_code == 200
    edit = client.put(f"/api/cars/{available['id']}", json={"price": 1}, headers=factory.headers(seller))
    assert edit.status_code == 200 and edit.get_json()["price"] == 1


def test_a_seller_demoted_to_user_cannot_buy_their_own_car(client, factory, sql, seller):
    car = factory.car(seller, status="available")
    sql.execute("UPDATE users SET role = 'user' WHERE id = %s", [seller["id"]])
    seller["role"] = "user"

    response = client.post("/api/payments/checkout", json={"carId": car["id"]}, headers=factory.headers(seller))

    assert response.status_code == 409
    assert response.get_json()["error"] == "You cannot buy your own car"
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_a_seller_cannot_draft_an_order_selling_a_car_to_themself(client, factory, sql, seller):
    car = factory.car(seller, status="available")
    response = client.post("/api/seller/orders", json={"carId": car["id"], "buyerId": seller["id"]},
                           headers=factory.headers(seller))
    assert response.status_code == 409
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_a_seller_cannot_review_their_own_car(client, factory, sql, seller):
    car = factory.car(seller, status="available")
    response = client.post("/api/reviews", json={"carId": car["id"], "rating": 5, "comment": "Mine is great"},
                           headers=factory.headers(seller))
    assert response.status_code == 403
    assert sql.execute("SELECT count(*) AS n FROM reviews").fetchone()["n"] == 0


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_nobody_reviews_a_listing_that_is_not_public(client, factory, sql, seller, status):
    car = factory.car(seller, status=status)
    response = client.post("/api/reviews", json={"carId": car["id"], "rating": 1, "comment": "x"},
                           headers=factory.headers(factory.user("user")))
    assert response.status_code == 409
    assert sql.execute("SELECT count(*) AS n FROM reviews").fetchone()["n"] == 0


@pytest.mark.parametrize("status", ["available", "reserved", "sold"])
def test_a_buyer_reviews_a_public_car(client, factory, seller, status):
    car = factory.car(seller, status=status)
    response = client.post("/api/reviews", json={"carId": car["id"], "rating": 4, "comment": "Good"},
                           headers=factory.headers(factory.user("user")))
    assert response.status_code == 200
    review = response.get_json()
    assert (review["carId"], review["rating"], review["comment"]) == (car["id"], 4, "Good")


@pytest.mark.parametrize("spelling", ["１", "١", "𝟏", "¹", "1\u200b", " 1", "1 ", "\t1", "1\n", "+1"])
def test_ids_in_urls_and_bodies_are_ascii_digits_only(client, factory, seller, spelling, sql):
    car = factory.car(seller)
    assert car["id"] == 1
    assert client.get("/api/cars/1").status_code == 200
    buyer = factory.headers(factory.user())

    assert client.get(f"/api/cars/{quote(spelling)}").status_code == 400
    assert client.get(f"/api/reviews/car/{quote(spelling)}").status_code == 400
    for path, body in [("/api/favorites/toggle", {}), ("/api/reviews", {"rating": 5, "comment": "Fine"}),
                       ("/api/inquiries", {"message": "Still for sale?"}), ("/api/payments/checkout", {})]:
        response = client.post(path, json={"carId": spelling, **body}, headers=buyer)
        assert (response.status_code, response.is_json) == (400, True), path
    assert sql.execute("SELECT (SELECT count(*) FROM favorites) + (SELECT count(*) FROM reviews) "
                       "+ (SELECT count(*) FROM inquiries) + (SELECT count(*) FROM orders) AS n").fetchone()["n"] == 0


@pytest.mark.parametrize("car_id", [1, "1"])
def test_ids_in_bodies_are_json_integers_or_strings_of_digits(client, factory, seller, car_id):
    """The legacy frontend sends both."""
    factory.car(seller)
    response = client.post("/api/favorites/toggle", json={"carId": car_id}, headers=factory.headers(factory.user()))
    assert (response.status_code, response.get_json()["favorites"]) == (200, [1])
