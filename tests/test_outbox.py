"""The notification outbox: workers, retries, attempts, a fake Telegram on 127.0.0.1."""

import threading
import time
from collections import Counter

import psycopg
import pytest
from psycopg.rows import dict_row
from support.fake_telegram import TOKEN, FakeTelegram

from cms.config import Settings
from cms.repositories import outbox as outbox_repo
from cms.services import outbox


@pytest.fixture
def telegram():
    servers = []

    def make(plan):
        server = FakeTelegram(plan)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row, options="-c timezone=UTC") as c:
        yield c


def _queue(conn, *messages):
    with conn.transaction():
        return [outbox_repo.enqueue(conn, "test", text) for text in messages]


def _rows(sql):
    return sql.execute("SELECT * FROM notification_outbox ORDER BY id").fetchall()


def test_a_sent_notification_records_the_telegram_message_id_and_the_attempt(conn, sql, telegram):
    server = telegram(lambda n, text: "ok")
    _queue(conn, "New inquiry")
    assert outbox.deliver_due(conn, server.client()) == 1
    [row] = _rows(sql)
    assert row["status"] == "sent" and row["attempts"] == 1 and row["telegram_message_id"] == 1001
    assert row["sent_at"] is not None
    [attempt] = sql.execute("SELECT * FROM notification_attempts").fetchall()
    assert attempt["status"] == "sent" and attempt["telegram_message_id"] == 1001 and attempt["attempt_number"] == 1
    assert server.received == ["New inquiry"]
    assert outbox.deliver_due(conn, server.client()) == 0


@pytest.mark.parametrize("mode, error", [("error", "HTTP 500"), ("malformed", "malformed answer"),
                                         ("refused", "refused the message")])
def test_a_failed_attempt_is_recorded_and_retried_after_a_backoff(conn, sql, telegram, mode, error):
    server = telegram(lambda n, text: mode)
    _queue(conn, "Payment confirmed")
    outbox.deliver_due(conn, server.client(), base_backoff=30)
    [row] = _rows(sql)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert error in row["last_error"]
    waited = sql.execute(
        "SELECT extract(epoch FROM next_attempt_at - (now() AT TIME ZONE 'utc')) AS s FROM notification_outbox"
    ).fetchone()["s"]
    assert 25 < waited <= 30
    # Not due yet: nothing is sent again.
    assert outbox.deliver_due(conn, server.client()) == 0
    [attempt] = sql.execute("SELECT status, error FROM notification_attempts").fetchall()
    assert attempt["status"] == "failed" and error in attempt["error"]


def test_a_timeout_counts_as_a_failed_attempt(conn, sql, telegram):
    server = telegram(lambda n, text: "hang")
    _queue(conn, "slow")
    started = time.monotonic()
    outbox.deliver_due(conn, server.client(timeout=0.3), base_backoff=0)
    assert time.monotonic() - started < 1.5
    [row] = _rows(sql)
    assert row["status"] == "pending" and "unreachable" in row["last_error"]


def test_backoff_doubles_and_the_row_fails_after_the_last_attempt(conn, sql, telegram):
    assert [outbox.backoff_seconds(n, 2) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    server = telegram(lambda n, text: "error")
    _queue(conn, "doomed")
    for _ in range(3):
        outbox.deliver_due(conn, server.client(), max_attempts=3, base_backoff=0)
    [row] = _rows(sql)
    assert row["status"] == "failed" and row["attempts"] == 3
    assert len(server.received) == 3
    assert outbox.deliver_due(conn, server.client(), max_attempts=3, base_backoff=0) == 0


def test_two_workers_drain_one_outbox_under_failures_without_sending_twice_or_losing(
        database_url, conn, sql, telegram):
    # Every third request fails: messages are retried until sent.
    server = telegram(lambda n, text: "error" if n % 3 == 0 else "ok")
    texts = [f"message {i}" for i in range(40)]
    _queue(conn, *texts)
    stop = threading.Event()
    workers = [
        threading.Thread(target=outbox.run_worker, args=(database_url, server.client()),
                         kwargs={"interval": 0.05, "batch": 3, "base_backoff": 0.05, "max_attempts": 20,
                                 "stop": stop})
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sql.execute("SELECT count(*) AS n FROM notification_outbox WHERE status <> 'sent'").fetchone()["n"] == 0:
            break
        time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join(timeout=10)

    rows = _rows(sql)
    assert all(row["status"] == "sent" for row in rows)
    attempts = sql.execute("SELECT outbox_id, status, worker FROM notification_attempts").fetchall()
    successes = Counter(a["outbox_id"] for a in attempts if a["status"] == "sent")
    assert sorted(successes) == [row["id"] for row in rows]
    assert set(successes.values()) == {1}
    # Telegram accepted each text exactly once (failed requests do not count as deliveries).
    accepted = Counter(text for n, text in enumerate(server.received, start=1) if n % 3 != 0)
    assert accepted == Counter(texts)
    assert len({a["worker"] for a in attempts}) >= 1


def test_missing_or_malformed_token_disables_sending_with_one_warning(caplog):
    base = Settings(database_url="postgresql://x@127.0.0.1/x", telegram_enabled=True, telegram_chat_id="42")
    assert outbox.client_from_settings(base.with_overrides(telegram_bot_token="")) is None
    assert outbox.client_from_settings(base.with_overrides(telegram_bot_token="not a token")) is None
    assert outbox.client_from_settings(base.with_overrides(telegram_enabled=False, telegram_bot_token=TOKEN)) is None
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3
    client = outbox.client_from_settings(base.with_overrides(telegram_bot_token=TOKEN))
    assert client is not None and client.chat_id == "42"
