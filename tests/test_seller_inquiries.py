"""GET /api/seller/inquiries and PATCH /api/seller/inquiries/:id (the seller workspace)."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def seller(factory):
    return factory.user("seller")


@pytest.fixture
def other_seller(factory):
    return factory.user("seller")


@pytest.fixture
def buyer(factory):
    return factory.user("user")


def make_inquiry(factory, car, buyer, **columns):
    values = {"car_id": car["id"], "user_id": buyer["id"], "seller_id": car["seller_id"], "message": "Is it new?",
              **columns}
    return factory.row("inquiries", **values)


def inquiry_row(sql, inquiry_id):
    return sql.execute("SELECT * FROM inquiries WHERE id = %s", (inquiry_id,)).fetchone()


def test_a_seller_sees_only_inquiries_addressed_to_them_newest_first(client, factory, seller, other_seller, buyer):
    mine = factory.car(seller)
    theirs = factory.car(other_seller)
    older = make_inquiry(factory, mine, buyer, created_at=dt.datetime(2024, 1, 1), type="test_drive",
                         requested_date=dt.date(2024, 1, 5))
    newer = make_inquiry(factory, mine, buyer, created_at=dt.datetime(2024, 2, 1))
    make_inquiry(factory, theirs, buyer)

    response = client.get("/api/seller/inquiries", headers=factory.headers(seller))
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body] == [newer["id"], older["id"]]
    first = body[1]
    assert first["carId"] == mine["id"]
    assert first["userId"] == buyer["id"]
    assert first["sellerId"] == seller["id"]
    assert first["message"] == "Is it new?"
    assert first["status"] == "open"
    assert first["type"] == "test_drive"
    assert first["requestedDate"] == "2024-01-05"
    assert first["response"] is None
    assert first["createdAt"] == "2024-01-01T00:00:00.000Z"
    assert ISO_UTC.match(first["updatedAt"])


def test_an_admin_sees_every_inquiry(client, factory, seller, other_seller, buyer):
    make_inquiry(factory, factory.car(seller), buyer)
    make_inquiry(factory, factory.car(other_seller), buyer)
    response = client.get("/api/seller/inquiries", headers=factory.headers(factory.user("admin")))
    assert response.status_code == 200
    assert len(response.get_json()) == 2


def test_a_seller_without_inquiries_gets_an_empty_list(client, factory, seller):
    response = client.get("/api/seller/inquiries", headers=factory.headers(seller))
    assert response.status_code == 200
    assert response.get_json() == []


def test_the_seller_responds_to_their_inquiry(client, factory, seller, buyer, sql):
    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    response = client.patch(f"/api/seller/inquiries/{inquiry['id']}", json={"status": "responded"},
                            headers=factory.headers(seller))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == inquiry["id"]
    assert body["status"] == "responded"
    assert body["response"] is None
    assert body["message"] == "Is it new?"
    assert inquiry_row(sql, inquiry["id"])["status"] == "responded"


def test_the_seller_can_store_a_response_text_and_later_keep_or_clear_it(client, factory, seller, buyer, sql):
    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    headers = factory.headers(seller)
    url = f"/api/seller/inquiries/{inquiry['id']}"

    body = client.patch(url, json={"status": "responded", "response": "  Yes, brand new.  "}, headers=headers)
    assert body.get_json()["response"] == "Yes, brand new."

    kept = client.patch(url, json={"status": "closed"}, headers=headers).get_json()
    assert (kept["status"], kept["response"]) == ("closed", "Yes, brand new.")

    cleared = client.patch(url, json={"status": "open", "response": None}, headers=headers).get_json()
    assert (cleared["status"], cleared["response"]) == ("open", None)
    assert inquiry_row(sql, inquiry["id"])["response"] is None


def test_an_admin_can_update_any_inquiry(client, factory, seller, buyer):
    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    response = client.patch(f"/api/seller/inquiries/{inquiry['id']}", json={"status": "closed"},
                            headers=factory.headers(factory.user("admin")))
    assert response.status_code == 200
    assert response.get_json()["status"] == "closed"


def test_another_sellers_inquiry_is_untouched_after_a_refused_patch(client, factory, seller, other_seller, buyer, sql):
    """The old server wrote the change first and refused afterwards."""
    inquiry = make_inquiry(factory, factory.car(other_seller), buyer)
    before = inquiry_row(sql, inquiry["id"])

    response = client.patch(f"/api/seller/inquiries/{inquiry['id']}",
                            json={"status": "closed", "response": "Not yours to answer"},
                            headers=factory.headers(seller))

    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}
    assert inquiry_row(sql, inquiry["id"]) == before


def test_ownership_is_checked_on_the_locked_current_row(app, factory, seller, other_seller, buyer, database_url,
                                                       sql):
    """While another transaction hands the inquiry to another seller, the PATCH waits for it and
    then refuses; a check on a stale unlocked read would have let the write through."""
    import psycopg

    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    headers = factory.headers(seller)
    finished = threading.Event()
    codes = []

    def patch():
        codes.append(app.test_client().patch(f"/api/seller/inquiries/{inquiry['id']}",
                                             json={"status": "closed"}, headers=headers).status_code)
        finished.set()

    with psycopg.connect(database_url) as holder:
        holder.execute("UPDATE inquiries SET seller_id = %s WHERE id = %s", (other_seller["id"], inquiry["id"]))
        thread = threading.Thread(target=patch)
        thread.start()
        assert not finished.wait(0.5), "the PATCH must wait for the row lock"
        holder.commit()
    thread.join(10)

    assert codes == [403]
    row = inquiry_row(sql, inquiry["id"])
    assert (row["seller_id"], row["status"]) == (other_seller["id"], "open")


def test_patching_an_unknown_inquiry_is_not_found(client, factory, seller):
    response = client.patch("/api/seller/inquiries/987654", json={"status": "closed"},
                            headers=factory.headers(seller))
    assert response.status_code == 404
    assert response.get_json() == {"error": "Inquiry not found"}


def test_a_non_numeric_inquiry_id_is_a_400(client, factory, seller):
    response = client.patch("/api/seller/inquiries/abc", json={"status": "closed"}, headers=factory.headers(seller))
    assert response.status_code == 400
    assert "id" in response.get_json()["error"]


@pytest.mark.parametrize("body", [{}, {"status": None}, {"status": "pending"}, {"status": "RESPONDED"},
                                  {"status": 1}, {"status": "closed", "response": 5},
                                  {"status": "closed", "response": "x" * 5001}])
def test_an_invalid_patch_body_is_refused_and_changes_nothing(client, factory, seller, buyer, body, sql):
    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    before = inquiry_row(sql, inquiry["id"])
    response = client.patch(f"/api/seller/inquiries/{inquiry['id']}", json=body, headers=factory.headers(seller))
    assert response.status_code == 400
    assert response.get_json()["details"]
    assert inquiry_row(sql, inquiry["id"]) == before


def test_a_patch_cannot_move_the_inquiry_to_another_seller(client, factory, seller, other_seller, buyer, sql):
    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    response = client.patch(f"/api/seller/inquiries/{inquiry['id']}",
                            json={"status": "closed", "sellerId": other_seller["id"], "userId": 1},
                            headers=factory.headers(seller))
    assert response.status_code == 200
    row = inquiry_row(sql, inquiry["id"])
    assert (row["seller_id"], row["user_id"]) == (seller["id"], buyer["id"])


@pytest.mark.parametrize("method, path", [("get", "/api/seller/inquiries"), ("patch", "/api/seller/inquiries/1")])
def test_buyers_are_forbidden(client, factory, buyer, method, path):
    response = getattr(client, method)(path, json={"status": "closed"}, headers=factory.headers(buyer))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}


def test_a_buyer_cannot_patch_an_inquiry_they_sent(client, factory, seller, buyer, sql):
    inquiry = make_inquiry(factory, factory.car(seller), buyer)
    response = client.patch(f"/api/seller/inquiries/{inquiry['id']}", json={"status": "closed"},
                            headers=factory.headers(buyer))
    assert response.status_code == 403
    assert inquiry_row(sql, inquiry["id"])["status"] == "open"


@pytest.mark.parametrize("method, path", [("get", "/api/seller/inquiries"), ("patch", "/api/seller/inquiries/1")])
def test_the_seller_routes_need_a_token(client, method, path):
    response = getattr(client, method)(path, json={"status": "closed"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}
