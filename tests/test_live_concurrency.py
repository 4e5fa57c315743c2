"""Integrity under concurrency, proven against the real service: granian (2 worker processes × 4
threads, see tests/support/live_server.py) on the session database, driven by real concurrent HTTP clients.

Every race starts its requests at one barrier so that they reach the server together. After each
race the database itself is checked, not only the answers. See docs/invariants.md.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from PIL import Image
from support.app import TEST_JWT_SECRET
from support.live_server import start_server

pytestmark = pytest.mark.slow

HTTP_TIMEOUT = 60
SOLD_TO_ANOTHER_BUYER = "This car has already been sold to another buyer; your order was cancelled"


@dataclass
class Answer:
    """One HTTP answer, kept for the assertions after the race."""

    status: int
    body: object

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


def call(method: str, url: str, **kwargs) -> Answer:
    response = requests.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(response.status_code, body)


def race(tasks: list[Callable[[threading.Barrier], object]]) -> list:
    """Run every task in its own thread; each gets a barrier of all tasks to start together on."""
    barrier = threading.Barrier(len(tasks), timeout=HTTP_TIMEOUT)
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(task, barrier) for task in tasks]
        return [future.result() for future in futures]


def together(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Send the calls at the same moment (one thread each); the answers in the same order."""

    def starting_together(function):
        def task(barrier):
            barrier.wait()
            return function()
        return task

    return race([starting_together(function) for function in calls])


def assert_no_server_error(answers: list[Answer]) -> None:
    """No 5xx, and every refusal is the contract's JSON error body."""
    assert [a for a in answers if a.status >= 500] == []
    for answer in answers:
        if answer.status >= 400:
            assert isinstance(answer.error, str) and answer.error, answer


def jpeg(seed: int, size: tuple[int, int] = (120, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 120)).save(buffer, "JPEG")
    return buffer.getvalue()


def orders_of_car(sql, car_id: int) -> list[dict]:
    return sql.execute("SELECT * FROM orders WHERE car_id = %s ORDER BY id", (car_id,)).fetchall()


def car_status(sql, car_id: int) -> str:
    return sql.execute("SELECT status FROM cars WHERE id = %s", (car_id,)).fetchone()["status"]


def payment_notifications(sql) -> int:
    return sql.execute("SELECT count(*) AS n FROM notification_outbox WHERE kind = 'payment_confirmed'").fetchone()["n"]


@pytest.fixture
def seller(factory):
    return factory.user("seller")


# --- a car is sold once ------------------------------------------------------------------------


def test_fifty_buyers_racing_for_one_car_buy_it_exactly_once(live_server, factory, sql, seller):
    car = factory.car(seller, price=25000)
    buyers = [factory.user("user") for _ in range(50)]
    headers = [factory.headers(buyer) for buyer in buyers]
    url = live_server.url

    def buyer_task(index):
        def task(barrier):
            barrier.wait()
            checkout = call("POST", f"{url}/api/payments/checkout", json={"carId": car["id"]}, headers=headers[index])
            # Every buyer holds an order awaiting payment before anyone pays: 50 confirmations race.
            barrier.wait()
            order_id = checkout.body["order"]["id"] if checkout.status == 200 else None
            confirm = call("POST", f"{url}/api/payments/confirm-payment", json={"orderId": order_id},
                           headers=headers[index])
            return checkout, confirm
        return task

    results = race([buyer_task(index) for index in range(len(buyers))])
    checkouts = [checkout for checkout, _ in results]
    confirms = [confirm for _, confirm in results]
    assert_no_server_error(checkouts + confirms)

    assert [c.status for c in checkouts] == [200] * 50
    assert all(c.body["order"]["status"] == "pending_payment" for c in checkouts)
    assert len({c.body["order"]["id"] for c in checkouts}) == 50
    winners = [c for c in confirms if c.status == 200]
    assert len(winners) == 1
    assert winners[0].body["order"]["status"] == "paid"
    losers = [c for c in confirms if c.status != 200]
    assert [c.status for c in losers] == [409] * 49
    assert {c.error for c in losers} == {SOLD_TO_ANOTHER_BUYER}

    orders = orders_of_car(sql, car["id"])
    assert len(orders) == 50
    assert [o["id"] for o in orders if o["status"] == "paid"] == [winners[0].body["order"]["id"]]
    assert sorted({o["status"] for o in orders}) == ["cancelled", "paid"]
    assert car_status(sql, car["id"]) == "sold"
    assert payment_notifications(sql) == 1


def test_two_service_instances_on_one_database_still_sell_a_car_once(live_server, database_url, factory, sql,
                                                                      seller, tmp_path):
    second = start_server(database_url, tmp_path, jwt_secret=TEST_JWT_SECRET)
    try:
        assert second.port != live_server.port
        assert len(live_server.wait_for_workers(2)) == 2 and len(second.wait_for_workers(2)) == 2
        cars = [factory.car(seller, price=30000 + n) for n in range(2)]
        buyers = [factory.user("user") for _ in range(40)]
        headers = [factory.headers(buyer) for buyer in buyers]

        def buyer_task(index):
            # Half the buyers go through each instance; checkout and payment back to back, no pause.
            url = (live_server.url, second.url)[index % 2]
            car_id = cars[index // 20]["id"]

            def task(barrier):
                barrier.wait()
                checkout = call("POST", f"{url}/api/payments/checkout", json={"carId": car_id},
                                headers=headers[index])
                if checkout.status != 200:
                    return car_id, checkout, None
                confirm = call("POST", f"{url}/api/payments/confirm-payment",
                               json={"orderId": checkout.body["order"]["id"]}, headers=headers[index])
                return car_id, checkout, confirm
            return task

        results = race([buyer_task(index) for index in range(len(buyers))])
    finally:
        second.stop()
    assert second.process.returncode == 0, second.log()

    assert_no_server_error([c for _, checkout, confirm in results for c in (checkout, confirm) if c])
    for car in cars:
        mine = [(checkout, confirm) for car_id, checkout, confirm in results if car_id == car["id"]]
        for checkout, _ in mine:
            assert (checkout.status, checkout.error) in {(200, None), (400, "Car already sold or not available")}
        confirms = [confirm for _, confirm in mine if confirm is not None]
        assert sorted(c.status for c in confirms) == [200] + [409] * (len(confirms) - 1)
        assert {c.error for c in confirms if c.status == 409} <= {SOLD_TO_ANOTHER_BUYER}

        orders = orders_of_car(sql, car["id"])
        assert len(orders) == len(confirms)  # one order per successful checkout, none for the refused ones
        assert [o["status"] for o in orders].count("paid") == 1
        assert {o["status"] for o in orders} <= {"paid", "cancelled"}
        assert car_status(sql, car["id"]) == "sold"
    assert payment_notifications(sql) == 2


def test_a_seller_completing_a_draft_and_a_buyer_paying_for_the_same_car_cannot_both_win(live_server, factory,
                                                                                          sql, seller):
    seller_headers = factory.headers(seller)
    calls, cars = [], []
    for n in range(6):
        car = factory.car(seller, price=20000 + n)
        draft_buyer, payer = factory.user("user"), factory.user("user")
        draft = factory.row("orders", car_id=car["id"], buyer_id=draft_buyer["id"], seller_id=seller["id"],
                            final_price=19000, status="draft", documents=[])
        checkout = call("POST", f"{live_server.url}/api/payments/checkout", json={"carId": car["id"]},
                        headers=factory.headers(payer))
        assert checkout.status == 200
        cars.append((car, draft["id"], checkout.body["order"]["id"]))
        calls.append(lambda order_id=draft["id"]: call(
            "PATCH", f"{live_server.url}/api/seller/orders/{order_id}", json={"status": "completed"},
            headers=seller_headers))
        calls.append(lambda order_id=checkout.body["order"]["id"], h=factory.headers(payer): call(
            "POST", f"{live_server.url}/api/payments/confirm-payment", json={"orderId": order_id}, headers=h))

    answers = together(calls)  # the six cars' races all at once
    assert_no_server_error(answers)

    for index, (car, draft_id, payment_id) in enumerate(cars):
        completion, payment = answers[2 * index], answers[2 * index + 1]
        assert sorted([completion.status, payment.status]) == [200, 409], (completion, payment)
        statuses = {o["id"]: o["status"] for o in orders_of_car(sql, car["id"])}
        if completion.status == 200:
            assert completion.body["status"] == "completed"
            assert payment.error == SOLD_TO_ANOTHER_BUYER
            assert statuses == {draft_id: "completed", payment_id: "cancelled"}
        else:
            assert payment.body["order"]["status"] == "paid"
            assert completion.error.startswith("This order was cancelled because the car was sold through order")
            assert statuses == {draft_id: "cancelled", payment_id: "paid"}
        assert car_status(sql, car["id"]) == "sold"


# --- favorites ------------------------------------------------------------------------------------


@pytest.mark.parametrize("toggles", [20, 21])
def test_concurrent_favorite_toggles_end_in_the_state_their_parity_says(live_server, factory, sql, seller, toggles):
    car = factory.car(seller)
    other_car = factory.car(seller)
    user = factory.user("user")
    factory.row("favorites", user_id=user["id"], car_id=other_car["id"])
    headers = factory.headers(user)
    url = f"{live_server.url}/api/favorites/toggle"

    answers = together([lambda: call("POST", url, json={"carId": str(car["id"])}, headers=headers)] * toggles)
    assert_no_server_error(answers)

    assert [a.status for a in answers] == [200] * toggles
    statuses = [a.body["status"] for a in answers]
    # The toggles are serialised: each one flips the state the previous one left.
    assert statuses.count("added") == (toggles + 1) // 2
    assert statuses.count("removed") == toggles // 2
    for answer in answers:
        expected = [other_car["id"], car["id"]] if answer.body["status"] == "added" else [other_car["id"]]
        assert answer.body["favorites"] == expected
    rows = sql.execute("SELECT car_id FROM favorites WHERE user_id = %s ORDER BY id", (user["id"],)).fetchall()
    final = [row["car_id"] for row in rows]
    assert final == ([other_car["id"], car["id"]] if toggles % 2 else [other_car["id"]])


# --- images ---------------------------------------------------------------------------------------


def test_concurrent_set_primary_on_different_images_leaves_exactly_one_primary(live_server, factory, sql, seller):
    car = factory.car(seller)
    images = [
        factory.row("car_images", car_id=car["id"], image_url=f"/images/car{n}.png", is_primary=n == 0,
                    display_order=n)
        for n in range(8)
    ]
    headers = factory.headers(seller)
    base = f"{live_server.url}/api/cars/{car['id']}/images"
    writes_done = threading.Event()
    seen_primaries: list[int] = []

    def reader():
        # Readers during the race never see a car with no primary image or with two.
        while not writes_done.is_set():
            answer = call("GET", base)
            assert answer.status == 200
            seen_primaries.append(sum(image["isPrimary"] for image in answer.body))

    def writer(image_id):
        return lambda: call("PUT", f"{base}/{image_id}", json={"isPrimary": True}, headers=headers)

    with ThreadPoolExecutor(max_workers=2) as readers:
        reading = [readers.submit(reader) for _ in range(2)]
        try:
            # Three rounds: every image is made primary three times, all 24 requests at once.
            answers = together([writer(image["id"]) for image in images] * 3)
        finally:
            writes_done.set()
        for future in reading:
            future.result()

    assert_no_server_error(answers)
    assert [a.status for a in answers] == [200] * 24
    assert all(a.body["image"]["isPrimary"] for a in answers)
    rows = sql.execute("SELECT id FROM car_images WHERE car_id = %s AND is_primary", (car["id"],)).fetchall()
    assert len(rows) == 1
    assert seen_primaries and set(seen_primaries) == {1}


def test_concurrent_uploads_never_put_more_than_10_images_on_a_car(live_server, factory, sql, seller):
    car = factory.car(seller)
    headers = factory.headers(seller)
    url = f"{live_server.url}/api/cars/{car['id']}/images"

    def upload(n):
        files = [("images", (f"upload{n}-{k}.jpg", jpeg(n * 2 + k), "image/jpeg")) for k in range(2)]
        return lambda: call("POST", url, files=files, headers=headers)

    # Eight uploads of two files race for ten places: five fit, three must be refused.
    answers = together([upload(n) for n in range(8)])
    assert_no_server_error(answers)

    assert sorted(a.status for a in answers) == [201] * 5 + [400] * 3
    for answer in answers:
        if answer.status == 400:
            assert answer.error.startswith("A car can have at most 10 images")
    rows = sql.execute(
        "SELECT i.is_primary, i.display_order, f.byte_size FROM car_images AS i "
        "LEFT JOIN car_image_files AS f ON f.image_id = i.id WHERE i.car_id = %s ORDER BY i.display_order",
        (car["id"],),
    ).fetchall()
    assert len(rows) == 10
    assert [row["display_order"] for row in rows] == list(range(10))
    assert sum(row["is_primary"] for row in rows) == 1
    assert all(row["byte_size"] for row in rows)  # every image row has its file
    stored_ids = {image["id"] for a in answers if a.status == 201 for image in a.body["images"]}
    assert len(stored_ids) == 10


# --- accounts and the audit log -------------------------------------------------------------------


def test_concurrent_registrations_of_one_email_in_different_cases_create_one_account(live_server, sql):
    spellings = ["race@example.com", "RACE@example.com", " Race@Example.com", "race@EXAMPLE.COM ",
                 "rAcE@example.com", "RACE@EXAMPLE.COM", "race@example.COM", "Race@example.com"]
    answers = together([
        lambda email=email: call("POST", f"{live_server.url}/api/auth/register",
                                 json={"name": "Racer", "email": email, "password": "Password123!", "role": "user"})
        for email in spellings
    ])
    assert_no_server_error(answers)

    assert sorted(a.status for a in answers) == [200] + [400] * 7
    assert {a.error for a in answers if a.status == 400} == {"Email used"}
    rows = sql.execute("SELECT id, email FROM users WHERE lower(btrim(email)) = 'race@example.com'").fetchall()
    assert len(rows) == 1
    events = sql.execute("SELECT user_id FROM auth_events WHERE event_type = 'register'").fetchall()
    assert events == [{"user_id": rows[0]["id"]}]


def test_concurrent_admin_changes_to_one_user_leave_one_audit_row_per_change_in_order(live_server, factory, sql):
    admins = [factory.user("admin") for _ in range(2)]
    target = factory.user("user")
    calls = [
        lambda n=n: call("PATCH", f"{live_server.url}/api/admin/users/{target['id']}",
                         json={"isActive": n % 2 == 1}, headers=factory.headers(admins[n % 2]))
        for n in range(12)
    ]
    answers = together(calls)
    assert_no_server_error(answers)
    assert [a.status for a in answers] == [200] * 12

    audit = sql.execute(
        "SELECT admin_id, target_id, details FROM admin_actions WHERE action_type = 'update_user' ORDER BY id"
    ).fetchall()
    # Serialised on the user row: each audited change starts from the state the previous one left.
    state = True
    for row in audit:
        assert row["target_id"] == target["id"]
        assert row["details"]["previous"] == {"isActive": state}
        assert row["details"]["changes"] == {"isActive": not state}
        state = not state
    final = sql.execute("SELECT is_active FROM users WHERE id = %s", (target["id"],)).fetchone()["is_active"]
    assert final == state
    assert len(audit) >= 1
    # The security log entry of each change was written in the same transaction as its audit row.
    changes = sql.execute("SELECT count(*) AS n FROM auth_events WHERE event_type = 'activation_change'").fetchone()
    assert changes["n"] == len(audit)
