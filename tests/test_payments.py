"""Payments: POST /api/payments/checkout, POST /api/payments/confirm-payment, GET /api/payments/my-orders."""

from __future__ import annotations

import re
import threading

import psycopg
import pytest
from support.app import car_row, order_row

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ORDER_KEYS = {"id", "carId", "buyerId", "sellerId", "finalPrice", "status", "documents", "createdAt", "updatedAt"}
CAR_KEYS = {"id", "title", "price", "description", "sellerId", "status", "brand", "model", "year", "fuelType",
            "image", "createdAt", "updatedAt"}
SOLD_TO_ANOTHER = "This car has already been sold to another buyer; your order was cancelled"


def make_order(factory, car, buyer, *, status="pending_payment", **columns):
    return factory.row(
        "orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=car["seller_id"],
        final_price=car["price"], status=status, documents=[], **columns,
    )


@pytest.fixture
def people(factory):
    seller = factory.user("seller")
    return {
        "seller": seller,
        "buyer": factory.user("user"),
        "other_buyer": factory.user("user"),
        "admin": factory.user("admin"),
        "car": factory.car(seller, price=74900, title="Mountain Defender Pro"),
    }


@pytest.fixture
def recorder(outbox_messages):
    return outbox_messages


def checkout(client, factory, buyer, car_id):
    return client.post("/api/payments/checkout", headers=factory.headers(buyer), json={"carId": car_id})


def confirm(client, factory, buyer, order_id):
    return client.post("/api/payments/confirm-payment", headers=factory.headers(buyer), json={"orderId": order_id})


# --- access --------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/payments/checkout", {"carId": 1}),
    ("post", "/api/payments/confirm-payment", {"orderId": 1}),
    ("get", "/api/payments/my-orders", None),
])
def test_payment_routes_need_a_token(client, method, path, body):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


# --- checkout ------------------------------------------------------------------------

def test_checkout_creates_an_order_awaiting_payment_at_the_car_price(client, factory, people, sql):
    response = checkout(client, factory, people["buyer"], people["car"]["id"])

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Order created"
    order = body["order"]
    assert set(order) == ORDER_KEYS
    assert order["status"] == "pending_payment"
    assert order["finalPrice"] == 74900
    assert order["carId"] == people["car"]["id"]
    assert order["buyerId"] == people["buyer"]["id"]
    assert order["sellerId"] == people["seller"]["id"]
    assert order["documents"] == []
    assert ISO_UTC.match(order["createdAt"]) and ISO_UTC.match(order["updatedAt"])
    assert order_row(sql, order["id"])["status"] == "pending_payment"
    assert car_row(sql, people["car"]["id"])["status"] == "available"


def test_checkout_accepts_the_car_id_as_a_digit_string(client, factory, people):
    response = checkout(client, factory, people["buyer"], str(people["car"]["id"]))
    assert response.status_code == 200
    order = response.get_json()["order"]
    assert (order["carId"], order["buyerId"], order["status"]) == (people["car"]["id"], people["buyer"]["id"],
                                                                  "pending_payment")


def test_a_second_checkout_of_the_same_car_returns_the_open_order(client, factory, people, sql):
    first = checkout(client, factory, people["buyer"], people["car"]["id"]).get_json()["order"]
    second = checkout(client, factory, people["buyer"], people["car"]["id"]).get_json()["order"]
    assert second["id"] == first["id"]
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 1


@pytest.mark.parametrize("role", ["seller", "admin"])
def test_only_buyers_can_check_out(client, factory, people, sql, role):
    response = checkout(client, factory, factory.user(role), people["car"]["id"])
    assert response.status_code == 403
    assert response.get_json() == {"error": "Only buyers can purchase vehicles"}
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_checkout_of_an_unknown_car_is_404(client, factory, people):
    response = checkout(client, factory, people["buyer"], 999999)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}


@pytest.mark.parametrize("status", ["pending", "reserved", "sold", "rejected"])
def test_checkout_of_a_car_that_is_not_available_is_400(client, factory, people, sql, status):
    car = factory.car(people["seller"], status=status)
    response = checkout(client, factory, people["buyer"], car["id"])
    assert response.status_code == 400
    assert response.get_json() == {"error": "Car already sold or not available"}
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


@pytest.mark.parametrize("body", [{}, {"carId": "abc"}, {"carId": 0}, {"carId": True}, {"carId": None},
                                  {"carId": 2**31}, {"carId": 3.5}])
def test_checkout_with_an_invalid_car_id_is_400(client, factory, people, body):
    response = client.post("/api/payments/checkout", headers=factory.headers(people["buyer"]), json=body)
    assert response.status_code == 400
    assert "carId" in response.get_json()["details"]


def test_checkout_is_refused_while_the_seller_is_deactivated_and_allowed_again_after(client, factory, people, sql):
    seller, car = people["seller"], people["car"]
    sql.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (seller["id"],))

    refused = checkout(client, factory, people["buyer"], car["id"])

    assert refused.status_code == 404
    assert refused.get_json() == {"error": "Car not found"}
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0
    sql.execute("UPDATE users SET is_active = TRUE WHERE id = %s", (seller["id"],))
    assert checkout(client, factory, people["buyer"], car["id"]).status_code == 200


# --- confirm-payment -------------------------------------------------------------------

def test_confirming_pays_the_order_and_sells_the_car(client, factory, people, sql, recorder):
    order = checkout(client, factory, people["buyer"], people["car"]["id"]).get_json()["order"]

    response = confirm(client, factory, people["buyer"], order["id"])

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Payment confirmed"
    assert set(body["order"]) == ORDER_KEYS
    assert body["order"]["id"] == order["id"]
    assert body["order"]["status"] == "paid"
    assert body["order"]["finalPrice"] == 74900
    assert order_row(sql, order["id"])["status"] == "paid"
    assert car_row(sql, people["car"]["id"])["status"] == "sold"
    assert len(recorder.messages) == 1
    message = recorder.messages[0]
    assert f"order #{order['id']}" in message
    assert "Mountain Defender Pro" in message
    assert people["buyer"]["email"] in message
    assert "$74,900.00" in message


def test_confirming_accepts_the_order_id_as_a_digit_string(client, factory, people):
    order = make_order(factory, people["car"], people["buyer"])
    response = confirm(client, factory, people["buyer"], str(order["id"]))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["message"], body["order"]["id"], body["order"]["status"]) == ("Payment confirmed", order["id"], "paid")


def test_a_payment_cancels_the_other_buyers_open_orders_for_the_car(client, factory, people, sql):
    mine = make_order(factory, people["car"], people["buyer"])
    theirs = make_order(factory, people["car"], people["other_buyer"])
    sellers_draft = make_order(factory, people["car"], people["other_buyer"], status="draft")

    assert confirm(client, factory, people["buyer"], mine["id"]).status_code == 200

    assert order_row(sql, theirs["id"])["status"] == "cancelled"
    assert order_row(sql, sellers_draft["id"])["status"] == "cancelled"
    late = confirm(client, factory, people["other_buyer"], theirs["id"])
    assert late.status_code == 409
    assert late.get_json() == {"error": SOLD_TO_ANOTHER}


def test_confirming_twice_is_409_and_changes_nothing(client, factory, people, sql, recorder):
    order = make_order(factory, people["car"], people["buyer"])
    assert confirm(client, factory, people["buyer"], order["id"]).status_code == 200
    paid = order_row(sql, order["id"])
    car = car_row(sql, people["car"]["id"])

    again = confirm(client, factory, people["buyer"], order["id"])

    assert again.status_code == 409
    assert again.get_json() == {"error": "This order is already paid"}
    assert order_row(sql, order["id"]) == paid
    assert car_row(sql, people["car"]["id"]) == car
    assert len(recorder.messages) == 1


@pytest.mark.parametrize("status", ["draft", "pending", "cancelled", "completed"])
def test_only_an_order_awaiting_payment_can_be_confirmed(client, factory, people, sql, status):
    car = factory.car(people["seller"], status="sold" if status == "completed" else "available")
    order = make_order(factory, car, people["buyer"], status=status)

    response = confirm(client, factory, people["buyer"], order["id"])

    assert response.status_code == 409
    assert response.get_json()["error"]
    assert order_row(sql, order["id"]) == order
    assert car_row(sql, car["id"])["status"] == car["status"]


def test_confirming_when_the_car_was_sold_meanwhile_cancels_the_order(client, factory, people, sql, recorder):
    order = make_order(factory, people["car"], people["buyer"])
    sql.execute("UPDATE cars SET status = 'sold' WHERE id = %s", (people["car"]["id"],))

    response = confirm(client, factory, people["buyer"], order["id"])

    assert response.status_code == 409
    assert response.get_json() == {"error": SOLD_TO_ANOTHER}
    assert order_row(sql, order["id"])["status"] == "cancelled"
    assert recorder.messages == []


@pytest.mark.parametrize("car_status", ["pending", "rejected"])
def test_confirming_for_an_unapproved_listing_is_409_and_changes_nothing(client, factory, people, sql, car_status):
    car = factory.car(people["seller"], status=car_status)
    order = make_order(factory, car, people["buyer"])

    response = confirm(client, factory, people["buyer"], order["id"])

    assert response.status_code == 409
    assert order_row(sql, order["id"]) == order
    assert car_row(sql, car["id"])["status"] == car_status


def test_confirming_a_reserved_car_sells_it(client, factory, people, sql):
    car = factory.car(people["seller"], status="reserved")
    order = make_order(factory, car, people["buyer"])
    assert confirm(client, factory, people["buyer"], order["id"]).status_code == 200
    assert car_row(sql, car["id"])["status"] == "sold"


@pytest.mark.parametrize("who", ["other_buyer", "seller", "admin"])
def test_confirming_someone_elses_order_is_forbidden_and_changes_nothing(client, factory, people, sql, who):
    order = make_order(factory, people["car"], people["buyer"])

    response = confirm(client, factory, people[who], order["id"])

    assert response.status_code == 403
    assert response.get_json() == {"error": "This order belongs to another buyer"}
    assert order_row(sql, order["id"]) == order
    assert car_row(sql, people["car"]["id"])["status"] == "available"


def test_confirming_an_unknown_order_is_404(client, factory, people):
    response = confirm(client, factory, people["buyer"], 999999)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Order not found"}


@pytest.mark.parametrize("body", [{}, {"orderId": "x"}, {"orderId": -4}, {"orderId": False}, {"orderId": [1]}])
def test_confirming_with_an_invalid_order_id_is_400(client, factory, people, body):
    response = client.post("/api/payments/confirm-payment", headers=factory.headers(people["buyer"]), json=body)
    assert response.status_code == 400
    assert "orderId" in response.get_json()["details"]


# --- my-orders -----------------------------------------------------------------------

def test_my_orders_lists_the_callers_orders_newest_first_with_the_car(client, factory, people):
    other_car = factory.car(people["seller"], title="Lunar Lucid Sedan", price=92000.25, image="/images/car3.png",
                            status="sold")
    older = make_order(factory, people["car"], people["buyer"], created_at="2024-01-01 09:00:00")
    newer = make_order(factory, other_car, people["buyer"], status="paid", created_at="2024-03-01 09:00:00")
    make_order(factory, people["car"], people["other_buyer"])

    response = client.get("/api/payments/my-orders", headers=factory.headers(people["buyer"]))

    assert response.status_code == 200
    body = response.get_json()
    assert [o["id"] for o in body] == [newer["id"], older["id"]]
    first = body[0]
    assert set(first) == ORDER_KEYS | {"car"}
    assert first["status"] == "paid"
    assert first["buyerId"] == people["buyer"]["id"]
    assert first["createdAt"] == "2024-03-01T09:00:00.000Z"
    car = first["car"]
    assert set(car) == CAR_KEYS
    assert car["id"] == other_car["id"]
    assert car["title"] == "Lunar Lucid Sedan"
    assert car["price"] == 92000.25
    assert car["sellerId"] == people["seller"]["id"]
    assert car["image"] == "/images/car3.png"
    assert car["fuelType"] == "Gasoline"
    assert ISO_UTC.match(car["createdAt"])
    assert body[1]["car"]["id"] == people["car"]["id"]


def test_my_orders_is_empty_for_a_caller_without_orders(client, factory, people):
    response = client.get("/api/payments/my-orders", headers=factory.headers(people["other_buyer"]))
    assert response.status_code == 200
    assert response.get_json() == []


def test_my_orders_runs_the_same_number_of_statements_whatever_the_number_of_orders(
        client, factory, people, monkeypatch):
    statements = []
    original = psycopg.Connection.execute

    def counting_execute(self, query, *args, **kwargs):
        if str(query).strip():  # the pool's connection check sends an empty statement
            statements.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counting_execute)

    def count_for_listing():
        statements.clear()
        response = client.get("/api/payments/my-orders", headers=factory.headers(people["buyer"]))
        assert response.status_code == 200
        return len(statements), len(response.get_json())

    make_order(factory, people["car"], people["buyer"])
    one = count_for_listing()
    for _ in range(5):
        make_order(factory, factory.car(people["seller"]), people["buyer"])
    six = count_for_listing()

    assert one[1] == 1 and six[1] == 6
    # the run-time settings (maintenance check), the token's user, then the orders with their cars
    assert one[0] == six[0] == 3


# --- races ---------------------------------------------------------------------------

def test_a_car_is_sold_only_once_when_20_buyers_race(make_app, factory, sql, outbox_messages):
    app = make_app(pool_max_size=25)
    notifier = outbox_messages
    seller = factory.user("seller")
    car = factory.car(seller, price=185000)
    buyers = [factory.user("user") for _ in range(20)]
    headers = [factory.headers(buyer) for buyer in buyers]
    barrier = threading.Barrier(len(buyers))
    checkouts: list[int] = []
    confirmations: list[tuple[int, int, dict]] = []
    lock = threading.Lock()

    def buy(buyer_headers):
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/payments/checkout", headers=buyer_headers, json={"carId": car["id"]})
        with lock:
            checkouts.append(response.status_code)
        order_id = response.get_json()["order"]["id"]
        barrier.wait()
        response = client.post("/api/payments/confirm-payment", headers=buyer_headers, json={"orderId": order_id})
        with lock:
            confirmations.append((order_id, response.status_code, response.get_json()))

    threads = [threading.Thread(target=buy, args=(h,)) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert checkouts == [200] * 20
    codes = sorted(code for _, code, _ in confirmations)
    assert codes == [200] + [409] * 19
    winner = next(order_id for order_id, code, _ in confirmations if code == 200)
    assert all(body == {"error": SOLD_TO_ANOTHER} for _, code, body in confirmations if code == 409)
    rows = sql.execute("SELECT id, status FROM orders WHERE car_id = %s", (car["id"],)).fetchall()
    assert len(rows) == 20
    assert {r["id"]: r["status"] for r in rows if r["status"] != "cancelled"} == {winner: "paid"}
    assert car_row(sql, car["id"])["status"] == "sold"
    assert len(notifier.messages) == 1


def test_two_simultaneous_confirmations_of_one_order_pay_it_once(make_app, factory, sql):
    app = make_app(pool_max_size=4)
    seller = factory.user("seller")
    buyer = factory.user("user")
    car = factory.car(seller)
    order = make_order(factory, car, buyer)
    headers = factory.headers(buyer)
    barrier = threading.Barrier(2)
    codes = []

    def pay():
        client = app.test_client()
        barrier.wait()
        codes.append(client.post("/api/payments/confirm-payment", headers=headers,
                                 json={"orderId": order["id"]}).status_code)

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(codes) == [200, 409]
    assert order_row(sql, order["id"])["status"] == "paid"
    assert car_row(sql, car["id"])["status"] == "sold"
