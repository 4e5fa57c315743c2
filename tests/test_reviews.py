"""GET /api/reviews/car/:carId (public) and POST /api/reviews (one review per user and car)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FIELDS = {"id", "carId", "userId", "userName", "rating", "comment", "createdAt"}


@pytest.fixture
def car(factory):
    return factory.car(factory.user("seller"))


@pytest.fixture
def reviewer(factory):
    return factory.user("user", name="Rita Reviewer")


def post_review(client, headers, **body):
    return client.post("/api/reviews", json=body, headers=headers)


def count_reviews(sql) -> int:
    return sql.execute("SELECT count(*) AS n FROM reviews").fetchone()["n"]


def test_a_review_is_created_with_the_reviewers_name(client, factory, car, reviewer):
    response = post_review(client, factory.headers(reviewer), carId=car["id"], rating=4, comment="  Smooth ride  ")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == FIELDS
    assert isinstance(body["id"], int)
    assert body["carId"] == car["id"]
    assert body["userId"] == reviewer["id"]
    assert body["userName"] == "Rita Reviewer"
    assert body["rating"] == 4
    assert body["comment"] == "Smooth ride"
    assert ISO_UTC.match(body["createdAt"])


def test_a_car_id_sent_as_a_string_of_digits_is_accepted(client, factory, car, reviewer):
    response = post_review(client, factory.headers(reviewer), carId=str(car["id"]), rating=5, comment="Great")
    assert response.status_code == 200
    assert response.get_json()["carId"] == car["id"]


def test_the_public_list_shows_a_cars_reviews_newest_first(client, factory, car, reviewer):
    other_car = factory.car(factory.user("seller"))
    second = factory.user("user", name="Otto")
    older = factory.row("reviews", car_id=car["id"], user_id=reviewer["id"], user_name="Rita Reviewer", rating=3,
                        comment="ok", created_at=dt.datetime(2024, 3, 1, 12, 0))
    newer = factory.row("reviews", car_id=car["id"], user_id=second["id"], user_name="Otto", rating=5,
                        comment="great", created_at=dt.datetime(2024, 4, 1, 12, 0))
    factory.row("reviews", car_id=other_car["id"], user_id=reviewer["id"], user_name="Rita", rating=1, comment="x")

    response = client.get(f"/api/reviews/car/{car['id']}")
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body] == [newer["id"], older["id"]]
    assert body[1] == {"id": older["id"], "carId": car["id"], "userId": reviewer["id"], "userName": "Rita Reviewer",
                       "rating": 3, "comment": "ok", "createdAt": "2024-03-01T12:00:00.000Z"}


def test_a_car_without_reviews_has_an_empty_list(client, car):
    response = client.get(f"/api/reviews/car/{car['id']}")
    assert response.status_code == 200
    assert response.get_json() == []


def test_a_blank_user_name_falls_back_to_the_users_name_then_anonymous(client, factory, car):
    """Old rows may hold a blank user_name (NULL is refused since migration 0020, as in old deployments)."""
    named = factory.user("user", name="Nora Named")
    nameless = factory.user("user", name=" ")
    factory.row("reviews", car_id=car["id"], user_id=named["id"], user_name="  ", rating=4, comment="a",
                created_at=dt.datetime(2024, 1, 2))
    factory.row("reviews", car_id=car["id"], user_id=nameless["id"], user_name="", rating=3, comment="c",
                created_at=dt.datetime(2023, 12, 31))

    names = [item["userName"] for item in client.get(f"/api/reviews/car/{car['id']}").get_json()]
    assert names == ["Nora Named", "Anonymous"]


def test_reviews_of_an_unknown_car_are_not_found(client):
    response = client.get("/api/reviews/car/99999")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}


def test_a_non_numeric_car_id_in_the_path_is_a_400(client):
    response = client.get("/api/reviews/car/abc")
    assert response.status_code == 400
    assert "id" in response.get_json()["error"]


def test_a_second_review_of_the_same_car_updates_the_first(client, factory, car, reviewer, sql):
    """Chosen rule: one review per user and car; posting again replaces rating and comment and
    answers 200 with the same review (same id and createdAt), rather than a 409."""
    headers = factory.headers(reviewer)
    first = post_review(client, headers, carId=car["id"], rating=2, comment="Meh").get_json()

    second = post_review(client, headers, carId=car["id"], rating=5, comment="Grew on me")
    assert second.status_code == 200
    body = second.get_json()
    assert body["id"] == first["id"]
    assert body["createdAt"] == first["createdAt"]
    assert (body["rating"], body["comment"]) == (5, "Grew on me")
    assert count_reviews(sql) == 1
    listed = client.get(f"/api/reviews/car/{car['id']}").get_json()
    assert [(item["id"], item["rating"], item["comment"]) for item in listed] == [(first["id"], 5, "Grew on me")]


def test_different_users_each_have_their_own_review(client, factory, car, reviewer, sql):
    other = factory.user("user")
    post_review(client, factory.headers(reviewer), carId=car["id"], rating=4, comment="Nice")
    post_review(client, factory.headers(other), carId=car["id"], rating=3, comment="Fine")
    assert count_reviews(sql) == 2


def test_the_same_user_can_review_different_cars(client, factory, car, reviewer, sql):
    other_car = factory.car(factory.user("seller"))
    headers = factory.headers(reviewer)
    post_review(client, headers, carId=car["id"], rating=4, comment="Nice")
    post_review(client, headers, carId=other_car["id"], rating=3, comment="Fine")
    assert count_reviews(sql) == 2


@pytest.mark.parametrize("missing", ["carId", "rating", "comment"])
def test_a_missing_field_is_refused(client, factory, car, reviewer, missing, sql):
    body = {"carId": car["id"], "rating": 4, "comment": "Nice"}
    del body[missing]
    response = client.post("/api/reviews", json=body, headers=factory.headers(reviewer))
    assert response.status_code == 400
    assert response.get_json()["error"] == "Missing required fields"
    assert missing in response.get_json()["details"]
    assert count_reviews(sql) == 0


@pytest.mark.parametrize("field, value", [("carId", None), ("rating", None), ("comment", None), ("comment", ""),
                                          ("comment", "   "), ("carId", "")])
def test_a_null_or_blank_field_counts_as_missing(client, factory, car, reviewer, field, value):
    body = {"carId": car["id"], "rating": 4, "comment": "Nice", field: value}
    response = client.post("/api/reviews", json=body, headers=factory.headers(reviewer))
    assert response.status_code == 400
    assert response.get_json()["error"] == "Missing required fields"


@pytest.mark.parametrize("rating", [4.7, "4", True, 0, 6, -1, 4.0, [4], 2**40])
def test_the_rating_must_be_an_integer_from_1_to_5(client, factory, car, reviewer, rating, sql):
    response = post_review(client, factory.headers(reviewer), carId=car["id"], rating=rating, comment="Nice")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "Rating must be a whole number from 1 to 5"
    assert "rating" in body["details"]
    assert count_reviews(sql) == 0


@pytest.mark.parametrize("rating", [1, 5])
def test_the_rating_bounds_are_accepted(client, factory, car, reviewer, rating):
    response = post_review(client, factory.headers(reviewer), carId=car["id"], rating=rating, comment="Nice")
    assert response.status_code == 200
    assert response.get_json()["rating"] == rating


@pytest.mark.parametrize("comment", [42, "x" * 5001, {"text": "hi"}])
def test_an_invalid_comment_is_refused(client, factory, car, reviewer, comment):
    response = post_review(client, factory.headers(reviewer), carId=car["id"], rating=4, comment=comment)
    assert response.status_code == 400
    assert "comment" in response.get_json()["details"]


@pytest.mark.parametrize("car_id", ["abc", 1.5, False, 0, -2, 2**31])
def test_an_invalid_car_id_is_refused(client, factory, reviewer, car_id):
    response = post_review(client, factory.headers(reviewer), carId=car_id, rating=4, comment="Nice")
    assert response.status_code == 400
    assert "carId" in response.get_json()["details"]


def test_a_review_of_an_unknown_car_is_not_found(client, factory, reviewer, sql):
    response = post_review(client, factory.headers(reviewer), carId=31337, rating=4, comment="Nice")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}
    assert count_reviews(sql) == 0


def test_posting_a_review_needs_a_token(client, car):
    response = client.post("/api/reviews", json={"carId": car["id"], "rating": 4, "comment": "Nice"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


def test_the_caller_cannot_choose_the_user_or_name_of_a_review(client, factory, car, reviewer):
    victim = factory.user("user", name="Victor Victim")
    response = post_review(client, factory.headers(reviewer), carId=car["id"], rating=4, comment="Nice",
                           userId=victim["id"], userName="Victor Victim")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["userId"], body["userName"]) == (reviewer["id"], "Rita Reviewer")
