"""Seller workspace orders: GET/POST /api/seller/orders, PATCH /api/seller/orders/:id."""

from __future__ import annotations

import re
import threading

import pytest
from support.app import car_row, order_row

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ORDER_KEYS = {"id", "carId", "buyerId", "sellerId", "finalPrice", "status", "documents", "createdAt", "updatedAt"}
STATUSES = ("draft", "pending", "pending_payment", "paid", "completed", "cancelled")
LEGAL = {
    ("draft", "pending"), ("draft", "completed"), ("draft", "cancelled"),
    ("pending", "pending_payment"), ("pending", "completed"), ("pending", "cancelled"),
    ("pending_payment", "paid"), ("pending_payment", "cancelled"),
    ("paid", "completed"),
}
MISSING = object()
ALL_CHANGES = [(a, b) for a in STATUSES for b in STATUSES if a != b]


def make_order(factory, car, buyer, *, status="draft", final_price=None, **columns):
    return factory.row(
        "orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=car["seller_id"],
        final_price=final_price if final_price is not None else car["price"], status=status,
        documents=columns.pop("documents", []), **columns,
    )


@pytest.fixture
def people(factory):
    seller = factory.user("seller")
    return {
        "seller": seller,
        "other_seller": factory.user("seller"),
        "buyer": factory.user("user"),
        "admin": factory.user("admin"),
        "car": factory.car(seller, price=25000.5),
    }


# --- access --------------------------------------------------------------------------

ROUTES = [
    ("get", "/api/seller/orders", None),
    ("post", "/api/seller/orders", {"carId": 1, "buyerId": 1, "finalPrice": 1}),
    ("patch", "/api/seller/orders/1", {"status": "pending"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_order_routes_need_a_token(client, method, path, body):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_buyers_cannot_use_the_seller_order_routes(client, factory, method, path, body):
    buyer = factory.user("user")
    response = getattr(client, method)(path, json=body, headers=factory.headers(buyer))
    assert response.status_code == 403
    assert response.get_json() == {"error": "Forbidden"}


# --- GET /orders -----------------------------------------------------------------------

def test_seller_lists_only_their_own_orders_newest_first_with_every_field(client, factory, people, sql):
    other_car = factory.car(people["other_seller"])
    older = make_order(factory, people["car"], people["buyer"], created_at="2024-01-01 10:00:00",
                       documents=[{"name": "Invoice", "url": "https://x/i.pdf", "uploadedAt": "2024-01-02T00:00:00Z"}])
    newer = make_order(factory, people["car"], people["buyer"], status="pending", created_at="2024-02-01 10:00:00")
    make_order(factory, other_car, people["buyer"])

    response = client.get("/api/seller/orders", headers=factory.headers(people["seller"]))

    assert response.status_code == 200
    body = response.get_json()
    assert [o["id"] for o in body] == [newer["id"], older["id"]]
    first = body[1]
    assert set(first) == ORDER_KEYS
    assert first["carId"] == people["car"]["id"]
    assert first["buyerId"] == people["buyer"]["id"]
    assert first["sellerId"] == people["seller"]["id"]
    assert first["finalPrice"] == 25000.5
    assert first["status"] == "draft"
    assert first["documents"] == [{"name": "Invoice", "url": "https://x/i.pdf", "uploadedAt": "2024-01-02T00:00:00Z"}]
    assert first["createdAt"] == "2024-01-01T10:00:00.000Z"
    assert ISO_UTC.match(first["updatedAt"])


def test_admin_lists_every_order(client, factory, people):
    other_car = factory.car(people["other_seller"])
    mine = make_order(factory, people["car"], people["buyer"])
    theirs = make_order(factory, other_car, people["buyer"])

    response = client.get("/api/seller/orders", headers=factory.headers(people["admin"]))

    assert response.status_code == 200
    assert sorted(o["id"] for o in response.get_json()) == sorted([mine["id"], theirs["id"]])


def test_an_old_order_without_documents_lists_an_empty_array(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])
    sql.execute("UPDATE orders SET documents = NULL WHERE id = %s", (order["id"],))

    response = client.get("/api/seller/orders", headers=factory.headers(people["seller"]))

    assert response.get_json()[0]["documents"] == []


def test_a_seller_without_orders_gets_an_empty_list(client, factory, people):
    response = client.get("/api/seller/orders", headers=factory.headers(people["other_seller"]))
    assert response.status_code == 200
    assert response.get_json() == []


# --- POST /orders ----------------------------------------------------------------------

def test_seller_creates_a_draft_for_their_car(client, factory, people, sql):
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json={
        "carId": people["car"]["id"], "buyerId": people["buyer"]["id"], "finalPrice": 24000.75,
    })

    assert response.status_code == 200
    order = response.get_json()
    assert set(order) == ORDER_KEYS
    assert order["carId"] == people["car"]["id"]
    assert order["buyerId"] == people["buyer"]["id"]
    assert order["sellerId"] == people["seller"]["id"]
    assert order["finalPrice"] == 24000.75
    assert order["status"] == "draft"
    assert order["documents"] == []
    assert ISO_UTC.match(order["createdAt"]) and ISO_UTC.match(order["updatedAt"])
    stored = order_row(sql, order["id"])
    assert stored["status"] == "draft" and str(stored["final_price"]) == "24000.75"
    assert car_row(sql, people["car"]["id"])["status"] == "available"


def test_draft_accepts_ids_and_price_as_strings_and_ignores_extra_keys(client, factory, people):
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json={
        "carId": str(people["car"]["id"]), "buyerId": str(people["buyer"]["id"]), "finalPrice": "19999.99",
        "status": "completed", "sellerId": people["other_seller"]["id"],
    })

    assert response.status_code == 200
    order = response.get_json()
    assert order["finalPrice"] == 19999.99
    assert order["status"] == "draft"
    assert order["sellerId"] == people["seller"]["id"]


@pytest.mark.parametrize("body_price", [{}, {"finalPrice": None}])
def test_draft_price_defaults_to_the_car_price(client, factory, people, body_price):
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json={
        "carId": people["car"]["id"], "buyerId": people["buyer"]["id"], **body_price,
    })
    assert response.status_code == 200
    assert response.get_json()["finalPrice"] == 25000.5


def test_buyer_id_1_sent_by_the_old_ui_is_accepted_as_an_existing_user(client, factory, sql):
    # Ids restart for every test: like the seed, the first account (id 1) is the admin.
    admin = factory.user("admin")
    assert admin["id"] == 1
    seller = factory.user("seller")
    car = factory.car(seller)

    response = client.post("/api/seller/orders", headers=factory.headers(seller),
                           json={"carId": car["id"], "buyerId": 1, "finalPrice": 100})

    assert response.status_code == 200
    assert response.get_json()["buyerId"] == 1


def test_admin_creates_a_draft_for_any_car_on_behalf_of_its_seller(client, factory, people):
    response = client.post("/api/seller/orders", headers=factory.headers(people["admin"]), json={
        "carId": people["car"]["id"], "buyerId": people["buyer"]["id"], "finalPrice": 1,
    })
    assert response.status_code == 200
    assert response.get_json()["sellerId"] == people["seller"]["id"]


def test_draft_for_another_sellers_car_is_forbidden_and_writes_nothing(client, factory, people, sql):
    response = client.post("/api/seller/orders", headers=factory.headers(people["other_seller"]), json={
        "carId": people["car"]["id"], "buyerId": people["buyer"]["id"], "finalPrice": 1,
    })
    assert response.status_code == 403
    assert response.get_json()["error"]
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_draft_for_an_unknown_car_is_404(client, factory, people):
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json={
        "carId": 999999, "buyerId": people["buyer"]["id"], "finalPrice": 1,
    })
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}


def test_draft_for_an_unknown_buyer_is_404(client, factory, people, sql):
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json={
        "carId": people["car"]["id"], "buyerId": 999999, "finalPrice": 1,
    })
    assert response.status_code == 404
    assert response.get_json() == {"error": "Buyer not found"}
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_draft_for_a_sold_car_is_409(client, factory, people):
    car = factory.car(people["seller"], status="sold")
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json={
        "carId": car["id"], "buyerId": people["buyer"]["id"], "finalPrice": 1,
    })
    assert response.status_code == 409
    assert response.get_json() == {"error": "This car is already sold"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"carId": MISSING}, "carId"),
    ({"carId": "abc"}, "carId"),
    ({"carId": 0}, "carId"),
    ({"carId": 2**31}, "carId"),
    ({"carId": True}, "carId"),
    ({"carId": 1.5}, "carId"),
    ({"buyerId": MISSING}, "buyerId"),
    ({"buyerId": "x1"}, "buyerId"),
    ({"buyerId": -1}, "buyerId"),
    ({"finalPrice": -1}, "finalPrice"),
    ({"finalPrice": "abc"}, "finalPrice"),
    ({"finalPrice": 1.234}, "finalPrice"),
    ({"finalPrice": 1e9}, "finalPrice"),
    ({"finalPrice": True}, "finalPrice"),
    ({"finalPrice": [1]}, "finalPrice"),
])
def test_draft_with_an_invalid_field_is_400(client, factory, people, sql, changes, field):
    body = {"carId": people["car"]["id"], "buyerId": people["buyer"]["id"], "finalPrice": 1, **changes}
    body = {k: v for k, v in body.items() if v is not MISSING}
    response = client.post("/api/seller/orders", headers=factory.headers(people["seller"]), json=body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


@pytest.mark.parametrize("raw", ["[1, 2]", "{not json", '"text"'])
def test_draft_with_a_body_that_is_not_a_json_object_is_400(client, factory, people, raw):
    response = client.post("/api/seller/orders", headers={**factory.headers(people["seller"]),
                                                          "Content-Type": "application/json"}, data=raw)
    assert response.status_code == 400
    assert "error" in response.get_json()


# --- PATCH /orders/:id: the state machine -------------------------------------------

def _order_in(factory, people, status):
    car = factory.car(people["seller"], status="sold" if status in ("paid", "completed") else "available")
    return car, make_order(factory, car, people["buyer"], status=status)


@pytest.mark.parametrize(("current", "target"), ALL_CHANGES)
def test_status_changes_follow_the_state_machine(client, factory, people, sql, current, target):
    car, order = _order_in(factory, people, current)

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": target})

    if (current, target) in LEGAL:
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == target
        assert order_row(sql, order["id"])["status"] == target
        expected_car = "sold" if target in ("paid", "completed") else "available"
        assert car_row(sql, car["id"])["status"] == expected_car
    else:
        assert response.status_code == 409
        assert response.get_json()["error"].startswith(f"An order cannot go from {current} to {target}")
        unchanged = order_row(sql, order["id"])
        assert unchanged["status"] == current
        assert unchanged["updated_at"] == order["updated_at"]
        assert car_row(sql, car["id"])["status"] == car["status"]


@pytest.mark.parametrize("status", STATUSES)
def test_setting_the_current_status_again_changes_nothing(client, factory, people, sql, status):
    car, order = _order_in(factory, people, status)

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": status})

    assert response.status_code == 200
    assert response.get_json()["status"] == status
    assert order_row(sql, order["id"])["updated_at"] == order["updated_at"]
    assert car_row(sql, car["id"])["status"] == car["status"]


def test_finalize_sale_on_a_draft_completes_it_and_sells_the_car(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == ORDER_KEYS
    assert body["status"] == "completed"
    assert body["finalPrice"] == 25000.5
    assert car_row(sql, people["car"]["id"])["status"] == "sold"


def test_selling_a_car_cancels_its_other_open_orders_in_the_same_transaction(client, factory, people, sql):
    winner = make_order(factory, people["car"], people["buyer"])
    other_buyer = factory.user("user")
    open_orders = [make_order(factory, people["car"], other_buyer, status=s)
                   for s in ("draft", "pending", "pending_payment")]
    old_cancelled = make_order(factory, people["car"], other_buyer, status="cancelled")
    other_car_order = make_order(factory, factory.car(people["seller"]), other_buyer)

    response = client.patch(f"/api/seller/orders/{winner['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 200
    assert [order_row(sql, o["id"])["status"] for o in open_orders] == ["cancelled"] * 3
    assert order_row(sql, old_cancelled["id"])["updated_at"] == old_cancelled["updated_at"]
    assert order_row(sql, other_car_order["id"])["status"] == "draft"


def test_completing_when_the_car_is_already_sold_is_409_and_changes_nothing(client, factory, people, sql):
    car = factory.car(people["seller"], status="sold")
    order = make_order(factory, car, people["buyer"])

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 409
    assert response.get_json() == {"error": "This car is already sold"}
    assert order_row(sql, order["id"])["status"] == "draft"


def test_completing_a_cancelled_order_of_a_car_sold_elsewhere_explains_why(client, factory, people, sql):
    car = factory.car(people["seller"], status="sold")
    sale = make_order(factory, car, factory.user("user"), status="paid")
    order = make_order(factory, car, people["buyer"], status="cancelled")

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 409
    expected = f"This order was cancelled because the car was sold through order #{sale['id']}"
    assert response.get_json()["error"] == expected


def test_a_reserved_car_can_be_sold_by_its_seller(client, factory, people, sql):
    car = factory.car(people["seller"], status="reserved")
    order = make_order(factory, car, people["buyer"])

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 200
    assert car_row(sql, car["id"])["status"] == "sold"


@pytest.mark.parametrize("car_status", ["pending", "rejected"])
def test_an_unapproved_listing_cannot_be_sold(client, factory, people, sql, car_status):
    car = factory.car(people["seller"], status=car_status)
    order = make_order(factory, car, people["buyer"])

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 409
    assert car_status in response.get_json()["error"]
    assert order_row(sql, order["id"])["status"] == "draft"
    assert car_row(sql, car["id"])["status"] == car_status


def test_paid_to_completed_keeps_the_car_sold(client, factory, people, sql):
    car = factory.car(people["seller"], status="sold")
    order = make_order(factory, car, people["buyer"], status="paid")

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed"})

    assert response.status_code == 200
    assert response.get_json()["status"] == "completed"
    assert car_row(sql, car["id"])["status"] == "sold"


# --- PATCH /orders/:id: ownership, ids, validation ----------------------------------

def test_patching_another_sellers_order_is_forbidden_and_changes_nothing(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["other_seller"]),
                            json={"status": "completed", "documents": [{"name": "x", "url": "https://x"}]})

    assert response.status_code == 403
    stored = order_row(sql, order["id"])
    assert stored["status"] == "draft" and stored["documents"] == [] and stored["updated_at"] == order["updated_at"]
    assert car_row(sql, people["car"]["id"])["status"] == "available"


def test_admin_can_change_any_order(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["admin"]),
                            json={"status": "cancelled"})
    assert response.status_code == 200
    assert order_row(sql, order["id"])["status"] == "cancelled"


def test_patching_an_unknown_order_is_404(client, factory, people):
    response = client.patch("/api/seller/orders/999999", headers=factory.headers(people["seller"]),
                            json={"status": "pending"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "Order not found"}


@pytest.mark.parametrize("path_id", ["abc", "1.5", "-1", "99999999999"])
def test_patching_with_a_non_numeric_or_out_of_range_id_is_400(client, factory, people, path_id):
    response = client.patch(f"/api/seller/orders/{path_id}", headers=factory.headers(people["seller"]),
                            json={"status": "pending"})
    assert response.status_code == 400
    assert "error" in response.get_json()


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "shipped"}, "status"),
    ({"status": 5}, "status"),
    ({"status": None}, "status"),
    ({"documents": "invoice.pdf"}, "documents"),
    ({"documents": [{"url": "https://x"}]}, "documents"),
    ({"documents": [{"name": "a"}]}, "documents"),
    ({"documents": [{"name": 5, "url": "https://x"}]}, "documents"),
    ({"documents": [{"name": "", "url": "https://x"}]}, "documents"),
    ({"documents": [{"name": "a", "url": "javascript:alert(1)"}]}, "documents"),
    ({"documents": [{"name": "a", "url": "https://x/" + "a" * 2048}]}, "documents"),
    ({"documents": [{"name": "a", "url": "https://x", "uploadedAt": "yesterday"}]}, "documents"),
    ({"documents": ["invoice.pdf"]}, "documents"),
    ({"documents": [{"name": "a", "url": "https://x"}] * 51}, "documents"),
])
def test_patching_with_an_invalid_field_is_400_and_changes_nothing(client, factory, people, sql, body, field):
    order = make_order(factory, people["car"], people["buyer"])

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json=body)

    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert order_row(sql, order["id"])["updated_at"] == order["updated_at"]


def test_patching_with_nothing_to_change_is_400(client, factory, people):
    order = make_order(factory, people["car"], people["buyer"])
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"finalPrice": 1})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Nothing to change")


# --- PATCH /orders/:id: documents ------------------------------------------------------

def test_documents_are_stored_as_a_json_array_and_returned(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])
    documents = [
        {"name": "Contract", "url": "https://files.example/contract.pdf", "uploadedAt": "2024-05-01T10:00:00.000Z"},
        {"name": "Registration", "url": "/docs/reg.pdf", "uploadedAt": "2024-05-01T12:00:00+02:00", "size": 3},
    ]

    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"documents": documents})

    assert response.status_code == 200
    expected = [
        {"name": "Contract", "url": "https://files.example/contract.pdf", "uploadedAt": "2024-05-01T10:00:00.000Z"},
        {"name": "Registration", "url": "/docs/reg.pdf", "uploadedAt": "2024-05-01T10:00:00.000Z"},
    ]
    assert response.get_json()["documents"] == expected
    assert response.get_json()["status"] == "draft"
    stored = sql.execute("SELECT documents, jsonb_typeof(documents) AS kind FROM orders WHERE id = %s",
                         (order["id"],)).fetchone()
    assert stored["kind"] == "array"
    assert stored["documents"] == expected


def test_a_document_without_upload_time_gets_the_current_time(client, factory, people):
    order = make_order(factory, people["car"], people["buyer"])
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"documents": [{"name": "Invoice", "url": "https://x/i.pdf"}]})
    assert response.status_code == 200
    assert ISO_UTC.match(response.get_json()["documents"][0]["uploadedAt"])


def test_new_documents_replace_the_old_list_and_null_empties_it(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"],
                       documents=[{"name": "Old", "url": "https://x/old", "uploadedAt": "2024-01-01T00:00:00.000Z"}])
    headers = factory.headers(people["seller"])

    replaced = client.patch(f"/api/seller/orders/{order['id']}", headers=headers,
                            json={"documents": [{"name": "New", "url": "https://x/new"}]})
    assert [d["name"] for d in replaced.get_json()["documents"]] == ["New"]

    emptied = client.patch(f"/api/seller/orders/{order['id']}", headers=headers, json={"documents": None})
    assert emptied.status_code == 200
    assert emptied.get_json()["documents"] == []
    assert order_row(sql, order["id"])["documents"] == []


def test_status_and_documents_change_together(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "completed", "documents": [{"name": "Bill of sale", "url": "https://x"}]})
    assert response.status_code == 200
    stored = order_row(sql, order["id"])
    assert stored["status"] == "completed"
    assert stored["documents"][0]["name"] == "Bill of sale"


def test_documents_can_be_attached_to_a_completed_order(client, factory, people):
    car = factory.car(people["seller"], status="sold")
    order = make_order(factory, car, people["buyer"], status="completed")
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"documents": [{"name": "Receipt", "url": "https://x/r"}]})
    assert response.status_code == 200
    assert response.get_json()["status"] == "completed"


def test_an_illegal_transition_does_not_store_the_documents_sent_with_it(client, factory, people, sql):
    order = make_order(factory, people["car"], people["buyer"])
    response = client.patch(f"/api/seller/orders/{order['id']}", headers=factory.headers(people["seller"]),
                            json={"status": "paid", "documents": [{"name": "x", "url": "https://x"}]})
    assert response.status_code == 409
    assert order_row(sql, order["id"])["documents"] == []


# --- races ---------------------------------------------------------------------------

def test_seller_completing_a_draft_while_a_buyer_pays_sells_the_car_once(make_app, factory, sql):
    app = make_app(pool_max_size=6)
    seller = factory.user("seller")
    seller_headers = factory.headers(seller)
    buyer = factory.user("user")
    buyer_headers = factory.headers(buyer)

    for _round in range(5):
        car = factory.car(seller)
        draft = make_order(factory, car, factory.user("user"))
        pending = make_order(factory, car, buyer, status="pending_payment")
        barrier = threading.Barrier(2)
        results = {}

        def seller_completes(draft_id=draft["id"], barrier=barrier, results=results):
            client = app.test_client()
            barrier.wait()
            results["seller"] = client.patch(f"/api/seller/orders/{draft_id}", headers=seller_headers,
                                             json={"status": "completed"}).status_code

        def buyer_pays(order_id=pending["id"], barrier=barrier, results=results):
            client = app.test_client()
            barrier.wait()
            results["buyer"] = client.post("/api/payments/confirm-payment", headers=buyer_headers,
                                           json={"orderId": order_id}).status_code

        threads = [threading.Thread(target=seller_completes), threading.Thread(target=buyer_pays)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert sorted(results.values()) == [200, 409], results
        statuses = {row["id"]: row["status"] for row in sql.execute(
            "SELECT id, status FROM orders WHERE car_id = %s", (car["id"],)).fetchall()}
        if results["seller"] == 200:
            assert statuses == {draft["id"]: "completed", pending["id"]: "cancelled"}
        else:
            assert statuses == {draft["id"]: "cancelled", pending["id"]: "paid"}
        assert car_row(sql, car["id"])["status"] == "sold"
