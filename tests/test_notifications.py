"""cms.services.notifications: the Telegram sender against a fake HTTP server, the switch-off
warning, the test double, and that a hanging Telegram never delays a request."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask

from cms.config import Settings
from cms.services import notifications
from cms.services.notifications import (
    DisabledNotifier,
    RecordingNotifier,
    TelegramNotifier,
    build_notifier,
    get_notifier,
    init_app,
    notify,
    notify_payment_confirmed,
)

LOGGER = "cms.services.notifications"


class FakeTelegram:
    """A tiny HTTP server on 127.0.0.1 answering each request with the next planned status."""

    def __init__(self, plan=(200,), hang: bool = False):
        self.plan = list(plan)
        self.hang = hang
        self.release = threading.Event()
        self.requests: list[dict] = []
        self.received = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with fake.received:
                    fake.requests.append({
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(body),
                    })
                    fake.received.notify_all()
                if fake.hang:
                    fake.release.wait(10)
                status = fake.plan.pop(0) if fake.plan else 200
                payload = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        with self.received:
            self.received.wait_for(lambda: len(self.requests) >= count, timeout)
        return list(self.requests)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_telegram():
    servers = []

    def make(**kwargs) -> FakeTelegram:
        server = FakeTelegram(**kwargs)
        servers.append(server)
        return server

    make.servers = servers
    yield make
    for server in servers:
        server.close()


@pytest.fixture
def senders(fake_telegram):
    made = []

    def make(api_url: str, **kwargs) -> TelegramNotifier:
        options = {"backoff_seconds": 0.01, "timeout_seconds": 2.0, **kwargs}
        sender = TelegramNotifier("123:SECRET-TOKEN", "-10042", api_url, **options)
        made.append(sender)
        return sender

    yield make
    for server in fake_telegram.servers:  # let hanging requests finish so the workers can stop
        server.release.set()
    for sender in made:
        sender.close(timeout=1)


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_the_sender_posts_the_text_to_the_bots_send_message_endpoint(fake_telegram, senders, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = fake_telegram()
    senders(server.url).send("New inquiry for the Aura")

    requests = server.wait_for(1)
    assert requests == [{
        "path": "/bot123:SECRET-TOKEN/sendMessage",
        "content_type": "application/json",
        "body": {"chat_id": "-10042", "text": "New inquiry for the Aura"},
    }]
    assert wait_until(lambda: "telegram notification sent (attempt 1)" in caplog.text)


def test_the_sender_retries_after_a_failure(fake_telegram, senders, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = fake_telegram(plan=[500, 200])
    senders(server.url).send("retry me")

    requests = server.wait_for(2)
    assert [r["body"]["text"] for r in requests] == ["retry me", "retry me"]
    assert wait_until(lambda: "telegram notification sent (attempt 2)" in caplog.text)
    assert "attempt 1 failed (HTTP 500" in caplog.text


def test_the_sender_gives_up_after_three_attempts_with_growing_delays(fake_telegram, senders, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = fake_telegram(plan=[503, 503, 503, 200])
    sender = senders(server.url, backoff_seconds=0.1)

    started = time.monotonic()
    assert sender.deliver("never arrives") is False
    elapsed = time.monotonic() - started

    assert len(server.requests) == 3
    assert elapsed >= 0.1 + 0.2  # backoff 0.1 s, then 0.2 s
    assert "failed after 3 attempts" in caplog.text
    assert "SECRET-TOKEN" not in caplog.text


def test_a_refusal_that_a_retry_cannot_fix_is_not_retried(fake_telegram, senders, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = fake_telegram(plan=[401, 200])
    assert senders(server.url).deliver("bad token") is False
    assert len(server.requests) == 1
    assert "refused, not retrying" in caplog.text


def test_an_unreachable_server_is_retried_then_logged(senders, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert senders(f"http://127.0.0.1:{port}").deliver("hello") is False
    assert caplog.text.count("failed (") == 2
    assert "failed after 3 attempts" in caplog.text


def test_sending_returns_at_once_while_the_server_hangs(fake_telegram, senders):
    server = fake_telegram(hang=True)
    sender = senders(server.url, timeout_seconds=5.0)

    started = time.monotonic()
    sender.send("first")
    sender.send("second")
    assert time.monotonic() - started < 0.1
    server.wait_for(1)
    server.release.set()
    assert [r["body"]["text"] for r in server.wait_for(2)] == ["first", "second"]


def test_a_hanging_telegram_does_not_delay_a_new_inquiry(app, client, factory, fake_telegram, senders, monkeypatch):
    server = fake_telegram(hang=True)
    sender = senders(server.url, timeout_seconds=5.0)
    monkeypatch.setitem(app.extensions, "cms.notifier", sender)
    seller = factory.user("seller")
    car = factory.car(seller, title="Mountain Defender Pro")
    buyer = factory.user("user", name="Hank Hurry")
    headers = factory.headers(buyer)

    started = time.monotonic()
    for _ in range(3):
        response = client.post("/api/inquiries", json={"carId": car["id"], "message": "Hi"}, headers=headers)
        assert response.status_code == 200
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    text = server.wait_for(1)[0]["body"]["text"]
    assert "Mountain Defender Pro" in text and "Hank Hurry" in text


def test_the_queue_drops_messages_beyond_its_size_instead_of_blocking(fake_telegram, senders, caplog):
    server = fake_telegram(hang=True)
    sender = senders(server.url, queue_size=1, timeout_seconds=5.0)
    sender.send("taken by the worker")
    server.wait_for(1)
    sender.send("waits in the queue")
    started = time.monotonic()
    sender.send("dropped")
    assert time.monotonic() - started < 0.1
    assert "dropped" in caplog.text


def settings(**overrides) -> Settings:
    return Settings(database_url="postgresql://unused", **overrides)


def bare_app(**overrides) -> Flask:
    app = Flask(__name__)
    app.config["CMS_SETTINGS"] = settings(**overrides)
    return app


@pytest.mark.parametrize("overrides, reason", [
    ({"telegram_enabled": False, "telegram_bot_token": "t", "telegram_chat_id": "c"}, "TELEGRAM_ENABLED"),
    ({"telegram_enabled": True, "telegram_bot_token": "", "telegram_chat_id": "c"}, "TELEGRAM_BOT_TOKEN"),
    ({"telegram_enabled": True, "telegram_bot_token": "t", "telegram_chat_id": ""}, "TELEGRAM_CHAT_ID"),
])
def test_notifications_are_disabled_with_one_warning_at_start_up(overrides, reason, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = bare_app(**overrides)
    init_app(app)
    with app.app_context():
        notify("first")
        notify("second")

    assert isinstance(app.extensions["cms.notifier"], DisabledNotifier)
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert reason in warnings[0].getMessage()


def test_complete_settings_build_a_telegram_sender(fake_telegram):
    server = fake_telegram()
    sender = build_notifier(settings(telegram_enabled=True, telegram_bot_token="T0K", telegram_chat_id="77",
                                     telegram_api_url=server.url))
    try:
        assert isinstance(sender, TelegramNotifier)
        sender.send("configured")
        assert server.wait_for(1)[0]["path"] == "/botT0K/sendMessage"
    finally:
        sender.close(timeout=1)


def test_notify_builds_the_notifier_from_the_settings_when_init_app_was_not_called(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = bare_app(telegram_enabled=False)
    with app.app_context():
        notify("lazy")
        notify("again")
        assert isinstance(get_notifier(), DisabledNotifier)
    assert sum(r.levelno == logging.WARNING for r in caplog.records if r.name == LOGGER) == 1


def test_notify_never_raises(caplog):
    class Broken:
        def send(self, text):
            raise RuntimeError("boom")

    app = bare_app()
    init_app(app, Broken())
    with app.app_context():
        notify("still fine")
    assert "notification could not be sent" in caplog.text


def test_the_recording_notifier_keeps_messages_in_order():
    recorder = RecordingNotifier()
    recorder.send("one")
    recorder.send("two")
    assert recorder.messages == ["one", "two"]
    assert isinstance(recorder, notifications.Notifier)


def test_a_confirmed_payment_message_names_order_car_buyer_and_amount():
    recorder = RecordingNotifier()
    app = bare_app()
    init_app(app, recorder)
    order = {"id": 12, "final_price": Decimal("185000.00"), "status": "paid", "created_at": dt.datetime(2024, 1, 1)}
    car = {"id": 3, "title": "Aura GT-S Concept"}
    buyer = {"id": 9, "name": "Bella Buyer", "email": "bella@example.com"}
    with app.app_context():
        notify_payment_confirmed(order, car, buyer)

    assert recorder.messages == [
        "Payment confirmed: order #12\n"
        'Car: "Aura GT-S Concept" (car #3)\n'
        "Buyer: Bella Buyer <bella@example.com> (user #9)\n"
        "Amount: $185,000.00"
    ]


def test_an_inquiry_message_is_cut_to_an_excerpt():
    text = notifications.inquiry_message(
        {"id": 1, "type": "general", "message": "x" * 2000, "requested_date": None},
        {"id": 2, "title": "Car"}, {"id": 3, "name": "B", "email": "b@example.com"},
    )
    assert text.startswith('New inquiry #1 for "Car" (car #2)\nFrom: B <b@example.com> (user #3)\nMessage: ')
    assert len(text) < 700
