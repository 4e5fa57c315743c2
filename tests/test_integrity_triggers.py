"""Rules the database itself keeps, whatever writes to it (migration 0016)."""

import psycopg
import pytest


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
