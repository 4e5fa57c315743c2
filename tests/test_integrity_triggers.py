"""Rules the database itself keeps, whatever writes to it (migrations 0016 and 0041)."""

import threading

import psycopg
import pytest
from support.databases import wait_for_lock_waiter


@pytest.fixture
def people(factory):
    return factory.user("seller"), factory.user("user")


def test_a_paid_order_on_a_car_that_is_not_sold_is_refused(factory, sql, people):
    seller, buyer = people
    car = factory.car(seller, status="available")
    with pytest.raises(psycopg.errors.CheckViolation, match="not sold"):
        factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                    final_price=100, status="paid")
    assert sql.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_a_sold_car_with_a_sale_cannot_be_put_back_on_sale(factory, sql, people):
    seller, buyer = people
    car = factory.car(seller, status="sold")
    factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                final_price=100, status="completed")
    with pytest.raises(psycopg.errors.CheckViolation, match="stays sold"):
        sql.execute("UPDATE cars SET status = 'available' WHERE id = %s", (car["id"],))
    assert sql.execute("SELECT status FROM cars WHERE id = %s", (car["id"],)).fetchone()["status"] == "sold"


def test_selling_in_one_transaction_passes_the_deferred_check(database_url, factory, sql, people):
    seller, buyer = people
    car = factory.car(seller, status="available")
    order = factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"],
                        final_price=100, status="pending_payment")
    with psycopg.connect(database_url) as conn:  # one transaction: order first, car second
        conn.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (order["id"],))
        conn.execute("UPDATE cars SET status = 'sold' WHERE id = %s", (car["id"],))
    assert sql.execute("SELECT status FROM orders").fetchone()["status"] == "paid"


def test_an_eleventh_image_is_refused(factory, sql, people):
    seller, _ = people
    car = factory.car(seller)
    for order in range(10):
        factory.row("car_images", car_id=car["id"], image_url=f"/images/{order}.png",
                    is_primary=order == 0, display_order=order)
    with pytest.raises(psycopg.errors.CheckViolation, match="more than 10 images"):
        factory.row("car_images", car_id=car["id"], image_url="/images/11.png", is_primary=False, display_order=10)
    assert sql.execute("SELECT count(*) AS n FROM car_images").fetchone()["n"] == 10


# --- cars.seller_active follows the seller's users.is_active (0041) ---------------------------


def _car_state(sql, car_id: int) -> dict:
    return sql.execute("SELECT seller_active, updated_at FROM cars WHERE id = %s", (car_id,)).fetchone()


def test_deactivating_a_seller_in_psql_hides_their_cars_and_keeps_updated_at(factory, sql, client, people):
    seller, _ = people
    car = factory.car(seller, status="available")
    before = _car_state(sql, car["id"])
    sql.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (seller["id"],))
    after = _car_state(sql, car["id"])
    assert after == {"seller_active": False, "updated_at": before["updated_at"]}
    assert client.get("/api/cars").get_json() == []
    assert client.get(f"/api/cars/{car['id']}").status_code == 404
    sql.execute("UPDATE users SET is_active = TRUE WHERE id = %s", (seller["id"],))
    assert _car_state(sql, car["id"]) == {"seller_active": True, "updated_at": before["updated_at"]}
    assert [c["id"] for c in client.get("/api/cars").get_json()] == [car["id"]]


def test_a_car_written_for_a_deactivated_seller_is_hidden_and_a_hand_written_flag_is_put_right(
        factory, sql, people):
    seller, other = people
    sql.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (seller["id"],))
    hidden = factory.car(seller, status="available")
    assert _car_state(sql, hidden["id"])["seller_active"] is False
    shown = factory.car(other, status="available")
    sql.execute("UPDATE cars SET seller_active = FALSE, title = 'x' WHERE id = %s", (shown["id"],))
    assert _car_state(sql, shown["id"])["seller_active"] is True
    sql.execute("UPDATE cars SET seller_id = %s WHERE id = %s", (seller["id"], shown["id"]))
    assert _car_state(sql, shown["id"])["seller_active"] is False


def test_a_deactivation_waits_for_a_new_listing_of_the_seller_and_then_hides_it(database_url, factory, sql, people):
    seller, _ = people
    with psycopg.connect(database_url) as listing:  # one transaction, left open below
        car_id = listing.execute(
            "INSERT INTO cars (title, price, seller_id, status) VALUES ('new', 100, %s, 'available') RETURNING id",
            (seller["id"],)).fetchone()[0]
        deactivation = threading.Thread(target=lambda: _deactivate(database_url, seller["id"]))
        deactivation.start()
        wait_for_lock_waiter(sql)
        assert deactivation.is_alive(), "the deactivation did not wait for the listing's transaction"
        listing.commit()
    deactivation.join(10)
    assert _car_state(sql, car_id)["seller_active"] is False


def _deactivate(database_url: str, user_id: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (user_id,))


def test_a_checkout_and_a_deactivation_of_the_car_s_seller_both_finish(app, factory, sql, monkeypatch):
    # The checkout holds the car; the deactivation locks the seller and then must write the car
    # (its seller_active). Had the checkout then asked for the seller's row, each would wait for
    # the other (a deadlock: one of them a 503).
    from cms.repositories import orders as orders_repo

    admin, seller, buyer = factory.user("admin"), factory.user("seller"), factory.user()
    car = factory.car(seller, status="available")
    car_locked, go_on, answers = threading.Event(), threading.Event(), {}
    lock_car = orders_repo.lock_car

    def lock_then_wait(conn, car_id):
        row = lock_car(conn, car_id)
        car_locked.set()
        go_on.wait(10)
        return row

    monkeypatch.setattr(orders_repo, "lock_car", lock_then_wait)

    def checkout():
        answers["checkout"] = app.test_client().post(
            "/api/payments/checkout", json={"carId": car["id"]}, headers=factory.headers(buyer)).status_code

    def deactivate():
        answers["deactivation"] = app.test_client().patch(
            f"/api/admin/users/{seller['id']}", json={"isActive": False}, headers=factory.headers(admin)).status_code

    buying = threading.Thread(target=checkout)
    buying.start()
    assert car_locked.wait(10)
    deactivating = threading.Thread(target=deactivate)
    deactivating.start()
    wait_for_lock_waiter(sql)
    go_on.set()
    buying.join(20)
    deactivating.join(20)
    assert answers == {"checkout": 200, "deactivation": 200}
    assert _car_state(sql, car["id"])["seller_active"] is False


def test_under_repeatable_read_a_deactivation_that_cannot_see_a_new_listing_fails_to_serialize(
        database_url, factory, sql, people):
    # Its trigger's UPDATE of the seller's cars cannot see a car committed after its snapshot;
    # what keeps the pair right is that both write data_version, so the deactivation fails.
    seller, _ = people
    with psycopg.connect(database_url) as deactivation:
        deactivation.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        deactivation.execute("SELECT 1")  # the snapshot
        car = factory.car(seller, status="available")
        with pytest.raises(psycopg.errors.SerializationFailure):
            deactivation.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (seller["id"],))
        deactivation.rollback()
    row = sql.execute("SELECT c.seller_active, u.is_active FROM cars AS c JOIN users AS u ON u.id = c.seller_id "
                      "WHERE c.id = %s", (car["id"],)).fetchone()
    assert row == {"seller_active": True, "is_active": True}
