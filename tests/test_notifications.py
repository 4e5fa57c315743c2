"""cms.services.notifications: message texts, queueing in the caller's transaction,
the per-process delivery thread, and the start-up warning when Telegram is off."""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row
from support.fake_telegram import TOKEN, FakeTelegram

from cms.services import notifications


@pytest.fixture
def fake_telegram():
    server = FakeTelegram()
    yield server
    server.close()


ORDER = {"id": 12, "final_price": Decimal("185000.00"), "status": "paid", "created_at": dt.datetime(2024, 1, 1)}
CAR = {"id": 3, "title": "Aura GT-S Concept"}
BUYER = {"id": 9, "name": "Bella Buyer", "email": "bella@example.com"}


def test_a_confirmed_payment_message_names_order_car_buyer_and_amount():
    assert notifications.payment_message(ORDER, CAR, BUYER) == (
        "Payment confirmed: order #12\n"
        'Car: "Aura GT-S Concept" (car #3)\n'
        "Buyer: Bella Buyer <bella@example.com> (user #9)\n"
        "Amount: $185,000.00"
    )


def test_an_inquiry_message_is_cut_to_an_excerpt():
    text = notifications.inquiry_message(
        {"id": 1, "type": "general", "message": "x" * 2000, "requested_date": None},
        {"id": 2, "title": "Car"}, {"id": 3, "name": "B", "email": "b@example.com"},
    )
    assert text.startswith('New inquiry #1 for "Car" (car #2)\nFrom: B <b@example.com> (user #3)\nMessage: ')
    assert len(text) < 700


def test_queued_messages_live_and_die_with_the_callers_transaction(database_url, sql):
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        with pytest.raises(RuntimeError):
            with conn.transaction():
                notifications.queue_payment_confirmed(conn, ORDER, CAR, BUYER)
                raise RuntimeError("the payment failed")
        assert sql.execute("SELECT count(*) AS n FROM notification_outbox").fetchone()["n"] == 0
        with conn.transaction():
            notifications.queue_payment_confirmed(conn, ORDER, CAR, BUYER)
    [row] = sql.execute("SELECT kind, status, message FROM notification_outbox").fetchall()
    assert row["kind"] == "payment_confirmed" and row["status"] == "pending"
    assert row["message"].startswith("Payment confirmed: order #12")


def test_without_telegram_settings_start_up_warns_once_and_starts_no_thread(make_app, caplog):
    caplog.set_level(logging.WARNING)
    app = make_app(telegram_enabled=False)
    warnings = [r for r in caplog.records if "Telegram" in r.getMessage()]
    assert len(warnings) == 1
    assert "cms.outbox_worker" not in app.extensions


def test_the_web_process_thread_delivers_a_new_inquiry_to_telegram(make_app, factory, fake_telegram, sql):
    app = make_app(telegram_enabled=True, telegram_bot_token=TOKEN, telegram_chat_id="42",
                   telegram_api_url=fake_telegram.url)
    thread, stop = app.extensions["cms.outbox_worker"]
    try:
        buyer = factory.user("user", name="Bella Buyer")
        car = factory.car(factory.user("seller"), title="Lunar Lucid Sedan")
        response = app.test_client().post("/api/inquiries", headers=factory.headers(buyer),
                                          json={"carId": car["id"], "message": "Still available?"})
        assert response.status_code == 200
        deadline = time.monotonic() + 10
        while not fake_telegram.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake_telegram.received) == 1
        assert "Lunar Lucid Sedan" in fake_telegram.received[0] and "Bella Buyer" in fake_telegram.received[0]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = sql.execute("SELECT status, telegram_message_id FROM notification_outbox").fetchone()
            if row["status"] == "sent":
                break
            time.sleep(0.05)
        assert row == {"status": "sent", "telegram_message_id": 1001}
    finally:
        stop.set()
        thread.join(timeout=10)
