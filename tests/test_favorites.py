"""GET /api/favorites and POST /api/favorites/toggle."""

from __future__ import annotations

import threading

import pytest
from support.app import error_of


@pytest.fixture
def buyer(factory):
    return factory.user("user")


@pytest.fixture
def car(factory):
    return factory.car(factory.user("seller"))


def toggle(client, headers, car_id):
    return client.post("/api/favorites/toggle", json={"carId": car_id}, headers=headers)


def test_favorites_start_empty(client, factory, buyer):
    response = client.get("/api/favorites", headers=factory.headers(buyer))
    assert response.status_code == 200
    assert response.get_json() == []


def test_toggle_adds_then_removes_a_favorite(client, factory, buyer, car, sql):
    headers = factory.headers(buyer)

    added = toggle(client, headers, car["id"])
    assert added.status_code == 200
    assert added.get_json() == {"status": "added", "favorites": [car["id"]]}
    assert client.get("/api/favorites", headers=headers).get_json() == [car["id"]]

    removed = toggle(client, headers, car["id"])
    assert removed.status_code == 200
    assert removed.get_json() == {"status": "removed", "favorites": []}
    assert sql.execute("SELECT count(*) AS n FROM favorites").fetchone()["n"] == 0


def test_toggle_accepts_a_car_id_sent_as_a_string_of_digits(client, factory, buyer, car):
    response = toggle(client, factory.headers(buyer), str(car["id"]))
    assert response.status_code == 200
    assert response.get_json()["favorites"] == [car["id"]]


def test_favorites_list_holds_only_the_callers_cars_in_the_order_added(client, factory, buyer):
    seller = factory.user("seller")
    first, second, third = (factory.car(seller) for _ in range(3))
    other = factory.user("user")
    headers = factory.headers(buyer)
    toggle(client, headers, second["id"])
    toggle(client, headers, first["id"])
    toggle(client, factory.headers(other), third["id"])

    response = client.get("/api/favorites", headers=headers)
    assert response.get_json() == [second["id"], first["id"]]
    assert client.get("/api/favorites", headers=factory.headers(other)).get_json() == [third["id"]]


def test_sellers_and_admins_have_favorites_too(client, factory, car):
    for role in ("seller", "admin"):
        response = toggle(client, factory.headers(factory.user(role)), car["id"])
        assert response.status_code == 200
        assert response.get_json()["status"] == "added"


@pytest.mark.parametrize("body", [{}, {"carId": None}, {"carId": ""}, {"carId": "  "}])
def test_toggle_without_a_car_id_is_refused(client, factory, buyer, body):
    response = client.post("/api/favorites/toggle", json=body, headers=factory.headers(buyer))
    assert response.status_code == 400
    assert response.get_json()["error"] == "carId is required"


@pytest.mark.parametrize("car_id", ["abc", 1.5, True, 0, -3, "3.0", 2**31, [1], {"id": 1},
                                    " 1", "1 ", "\t1", "1\r\n", "+1", "1_0", "1" * 5000])
def test_toggle_with_an_invalid_car_id_is_refused(client, factory, buyer, car_id, sql):
    response = client.post("/api/favorites/toggle", json={"carId": car_id}, headers=factory.headers(buyer))
    assert response.status_code == 400
    body = response.get_json()
    assert "carId" in body["error"]
    assert "carId" in body["details"]
    assert sql.execute("SELECT count(*) AS n FROM favorites").fetchone()["n"] == 0


def test_toggle_of_an_unknown_car_is_not_found(client, factory, buyer):
    response = toggle(client, factory.headers(buyer), 999999)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Car not found"}


def test_toggle_with_malformed_json_is_refused(client, factory, buyer):
    response = client.post("/api/favorites/toggle", data="{carId: 1", headers={
        **factory.headers(buyer), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "Malformed JSON body"


@pytest.mark.parametrize("method, path", [("get", "/api/favorites"), ("post", "/api/favorites/toggle")])
def test_favorites_need_a_token(client, method, path):
    response = getattr(client, method)(path, json={"carId": 1})
    assert response.status_code == 401
    assert response.get_json() == {"error": "No token"}


def test_deactivated_users_cannot_toggle(client, factory, car):
    user = factory.user("user", is_active=False)
    response = toggle(client, factory.headers(user), car["id"])
    assert response.status_code == 401
    assert error_of(response) == "Account is deactivated"


def test_concurrent_toggles_end_in_the_state_their_count_implies(make_app, factory, buyer, car, sql):
    """20 simultaneous toggles of one favorite: each makes one change, none fails, and the
    favorite ends absent (an even number of flips); the old read-then-write raced into 500s."""
    app = make_app(pool_min_size=1, pool_max_size=20, pool_timeout=10.0)
    headers = factory.headers(buyer)
    threads_count = 20
    barrier = threading.Barrier(threads_count)
    results: list[tuple[int, dict | None]] = []
    lock = threading.Lock()

    def worker():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/favorites/toggle", json={"carId": car["id"]}, headers=headers)
        with lock:
            results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [status for status, _ in results] == [200] * threads_count
    statuses = [body["status"] for _, body in results]
    assert statuses.count("added") == threads_count // 2
    assert statuses.count("removed") == threads_count // 2
    rows = sql.execute(
        "SELECT count(*) AS n FROM favorites WHERE user_id = %s AND car_id = %s", (buyer["id"], car["id"])
    ).fetchone()
    assert rows["n"] == 0


def test_an_odd_number_of_concurrent_toggles_leaves_the_favorite_present(make_app, factory, buyer, car, sql):
    app = make_app(pool_min_size=1, pool_max_size=12, pool_timeout=10.0)
    headers = factory.headers(buyer)
    threads_count = 11
    barrier = threading.Barrier(threads_count)
    codes: list[int] = []

    def worker():
        client = app.test_client()
        barrier.wait()
        codes.append(client.post("/api/favorites/toggle", json={"carId": car["id"]}, headers=headers).status_code)

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert codes == [200] * threads_count
    rows = sql.execute("SELECT car_id FROM favorites WHERE user_id = %s", (buyer["id"],)).fetchall()
    assert rows == [{"car_id": car["id"]}]


def test_a_deleted_car_leaves_the_favorites(client, factory, buyer, car, sql):
    headers = factory.headers(buyer)
    toggle(client, headers, car["id"])
    sql.execute("DELETE FROM cars WHERE id = %s", (car["id"],))
    assert client.get("/api/favorites", headers=headers).get_json() == []
