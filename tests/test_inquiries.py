"""GET /api/inquiries and POST /api/inquiries (buyer side), with the seller's notification."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from support.app import error_of

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FIELDS = {"id", "carId", "userId", "sellerId", "message", "status", "type", "requestedDate", "response",
          "createdAt", "updatedAt"}


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.fixture
def seller(factory):
    return factory.user("seller", name="Sam Seller")


@pytest.fixture
def buyer(factory):
    return factory.user("user", name="Bella Buyer", email="bella@example.com")


@pytest.fixture
def car(factory, seller):
    return factory.car(seller, title="Aura GT-S Concept")


@pytest.fixture
def recorder(outbox_messages):
    return outbox_messages


def post_inquiry(client, headers, **body):
    return client.post("/api/inquiries", json=body, headers=headers)


def count_inquiries(sql) -> int:
    return sql.execute("SELECT count(*) AS n FROM inquiries").fetchone()["n"]


def test_a_general_inquiry_is_created_open_and_addressed_to_the_cars_seller(client, factory, buyer, car, seller,
                                                                            recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="  Is it still available?  ",
                            type="general", requestedDate="")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == FIELDS
    assert isinstance(body["id"], int)
    assert body["carId"] == car["id"]
    assert body["userId"] == buyer["id"]
    assert body["sellerId"] == seller["id"]
    assert body["message"] == "Is it still available?"
    assert body["status"] == "open"
    assert body["type"] == "general"
    assert body["requestedDate"] is None
    assert body["response"] is None
    assert ISO_UTC.match(body["createdAt"]) and ISO_UTC.match(body["updatedAt"])


def test_a_test_drive_keeps_its_date_as_a_plain_date(client, factory, buyer, car, sql, recorder):
    tomorrow = (utc_today() + dt.timedelta(days=1)).isoformat()
    response = post_inquiry(client, factory.headers(buyer), carId=str(car["id"]), message="Saturday?",
                            type="test_drive", requestedDate=tomorrow)
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == "test_drive"
    assert body["requestedDate"] == tomorrow
    stored = sql.execute("SELECT requested_date, type FROM inquiries WHERE id = %s", (body["id"],)).fetchone()
    assert stored == {"requested_date": dt.date.fromisoformat(tomorrow), "type": "test_drive"}


def test_a_test_drive_for_today_is_accepted(client, factory, buyer, car, recorder):
    today = utc_today().isoformat()
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Today?",
                            type="test_drive", requestedDate=today)
    assert response.status_code == 200
    assert response.get_json()["requestedDate"] == today


@pytest.mark.parametrize("body", [{}, {"type": None}])
def test_the_type_defaults_to_general(client, factory, buyer, car, body, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hello", **body)
    assert response.status_code == 200
    assert response.get_json()["type"] == "general"


def test_a_general_inquiry_stores_no_date_even_when_the_form_sends_one(client, factory, buyer, car, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hello", type="general",
                            requestedDate="2001-01-01")
    assert response.status_code == 200
    assert response.get_json()["requestedDate"] is None


def test_the_caller_cannot_choose_user_seller_or_status(client, factory, buyer, car, seller, recorder):
    intruder = factory.user("seller")
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi", userId=intruder["id"],
                            sellerId=intruder["id"], status="closed", id=777)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["userId"], body["sellerId"], body["status"]) == (buyer["id"], seller["id"], "open")
    assert body["id"] != 777


@pytest.mark.parametrize("requested_date", ["", None, "   "])
def test_a_test_drive_without_a_date_is_a_clear_400(client, factory, buyer, car, requested_date, sql, recorder):
    """The form sends "" when no date was picked; the old server answered 500."""
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="When?", type="test_drive",
                            requestedDate=requested_date)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "Please choose a date for the test drive"
    assert "requestedDate" in body["details"]
    assert count_inquiries(sql) == 0


def test_a_test_drive_without_the_date_key_is_refused(client, factory, buyer, car, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="When?", type="test_drive")
    assert response.status_code == 400
    assert "requestedDate" in response.get_json()["details"]


def test_a_test_drive_in_the_past_is_refused(client, factory, buyer, car, sql, recorder):
    past = (utc_today() - dt.timedelta(days=2)).isoformat()
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi", type="test_drive",
                            requestedDate=past)
    assert response.status_code == 400
    assert response.get_json()["error"] == "The test drive date is in the past"
    assert count_inquiries(sql) == 0


def test_a_test_drive_more_than_a_year_ahead_is_refused(client, factory, buyer, car, recorder):
    far = (utc_today() + dt.timedelta(days=800)).isoformat()
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi", type="test_drive",
                            requestedDate=far)
    assert response.status_code == 400
    assert "requestedDate" in response.get_json()["details"]


@pytest.mark.parametrize("requested_date", ["tomorrow", "2030-13-01", "2030-02-30", "30/06/2030", 20300630,
                                            "2030-06-30T10:00:00Z", True, ["2030-06-30"]])
def test_a_test_drive_date_that_is_not_a_date_is_refused(client, factory, buyer, car, requested_date, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi", type="test_drive",
                            requestedDate=requested_date)
    assert response.status_code == 400
    assert "requestedDate" in response.get_json()["details"]


@pytest.mark.parametrize("inquiry_type", ["other", "", 1, "TEST_DRIVE"])
def test_an_unknown_type_is_refused(client, factory, buyer, car, inquiry_type, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi", type=inquiry_type)
    assert response.status_code == 400
    assert response.get_json()["error"] == "The inquiry type must be general or test_drive"


@pytest.mark.parametrize("message", [None, "", "    ", 42, "x" * 5001])
def test_the_message_is_required_and_bounded(client, factory, buyer, car, message, sql, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message=message)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "Please write a message (at most 5000 characters)"
    assert "message" in body["details"]
    assert count_inquiries(sql) == 0


def test_a_missing_message_is_refused(client, factory, buyer, car, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"])
    assert response.status_code == 400
    assert "message" in response.get_json()["details"]


def test_a_message_of_exactly_the_limit_is_accepted(client, factory, buyer, car, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="x" * 5000)
    assert response.status_code == 200
    assert response.get_json()["message"] == "x" * 5000


@pytest.mark.parametrize("car_id", [None, "abc", 1.5, False, 0, -1, 2**31])
def test_an_invalid_car_id_is_refused(client, factory, buyer, car_id, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=car_id, message="Hi")
    assert response.status_code == 400
    assert "carId" in response.get_json()["details"]


def test_an_inquiry_without_a_car_id_is_refused(client, factory, buyer, recorder):
    response = post_inquiry(client, factory.headers(buyer), message="Hi")
    assert response.status_code == 400
    assert "carId" in response.get_json()["details"]


def test_an_inquiry_about_an_unknown_car_is_not_found(client, factory, buyer, sql, recorder):
    response = post_inquiry(client, factory.headers(buyer), carId=424242, message="Hi")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}
    assert count_inquiries(sql) == 0
    assert recorder.messages == []


def test_a_body_that_is_not_a_json_object_is_refused(client, factory, buyer, recorder):
    response = client.post("/api/inquiries", json=["carId", 1], headers=factory.headers(buyer))
    assert response.status_code == 400
    assert error_of(response) == "The request body must be a JSON object"


@pytest.mark.parametrize("method", ["get", "post"])
def test_inquiries_need_a_token(client, method):
    response = getattr(client, method)("/api/inquiries", json={"carId": 1, "message": "Hi"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


def test_an_invalid_token_is_refused(client):
    response = client.get("/api/inquiries", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid token"}


def test_the_list_holds_only_the_callers_inquiries_newest_first(client, factory, buyer, car, seller, sql):
    other = factory.user("user")
    older = factory.row("inquiries", car_id=car["id"], user_id=buyer["id"], seller_id=seller["id"], message="first",
                        type="test_drive", requested_date=dt.date(2024, 5, 17),
                        created_at=dt.datetime(2024, 5, 1, 9, 30))
    newer = factory.row("inquiries", car_id=car["id"], user_id=buyer["id"], seller_id=seller["id"],
                        message="second", created_at=dt.datetime(2024, 6, 1, 9, 30))
    factory.row("inquiries", car_id=car["id"], user_id=other["id"], seller_id=seller["id"], message="not mine")

    response = client.get("/api/inquiries", headers=factory.headers(buyer))
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body] == [newer["id"], older["id"]]
    assert body[1]["requestedDate"] == "2024-05-17"
    assert body[1]["createdAt"] == "2024-05-01T09:30:00.000Z"
    assert body[0]["type"] == "general"
    assert set(body[0]) == FIELDS


def test_the_seller_is_notified_of_a_new_inquiry_naming_the_car_and_the_buyer(client, factory, buyer, car, recorder):
    tomorrow = (utc_today() + dt.timedelta(days=1)).isoformat()
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Can I try it?",
                            type="test_drive", requestedDate=tomorrow)
    assert response.status_code == 200
    assert len(recorder.messages) == 1
    text = recorder.messages[0]
    assert "Aura GT-S Concept" in text
    assert f"car #{car['id']}" in text
    assert "Bella Buyer" in text and "bella@example.com" in text
    assert tomorrow in text
    assert "Can I try it?" in text


def test_the_notification_is_queued_in_the_inquirys_transaction(client, factory, buyer, car, sql, monkeypatch):
    from cms.repositories import outbox as outbox_repo

    def broken_enqueue(conn, kind, message):
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(outbox_repo, "enqueue", broken_enqueue)
    response = post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi")
    assert response.status_code == 500
    # Inquiry and announcement are one transaction: neither was written.
    assert count_inquiries(sql) == 0
    assert sql.execute("SELECT count(*) AS n FROM notification_outbox").fetchone()["n"] == 0


def test_a_refused_inquiry_sends_no_notification(client, factory, buyer, car, recorder):
    post_inquiry(client, factory.headers(buyer), carId=car["id"], message="Hi", type="test_drive",
                 requestedDate="")
    post_inquiry(client, factory.headers(buyer), carId=car["id"], message="")
    assert recorder.messages == []
