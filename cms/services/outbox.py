"""Durable notifications: an outbox written with the change, drained by workers.

A notification is a row of notification_outbox, inserted in the same
transaction as the inquiry or payment it announces, so it exists exactly when
the change does. Workers (`cms outbox-worker`, any number, on any host) claim
due rows with FOR UPDATE SKIP LOCKED and keep the row locked while they send
it, so two workers never send the same row; each attempt is recorded in
notification_attempts, failures are retried with exponential backoff up to
MAX_ATTEMPTS, then the row is marked failed. Delivery is at least once: a
worker killed after Telegram accepted a message but before its commit leaves
the row pending, and it is sent again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import psycopg

from cms import db
from cms.repositories import outbox as outbox_repo

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 600.0
SEND_TIMEOUT_SECONDS = 5.0
_TOKEN_FORMAT = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")


class DeliveryError(Exception):
    """Telegram did not accept the message."""


@dataclass(frozen=True)
class TelegramClient:
    """Posts messages to the Telegram Bot API (base URL configurable for tests)."""

    api_url: str
    token: str
    chat_id: str
    timeout: float = SEND_TIMEOUT_SECONDS

    def send(self, text: str) -> int:
        """Send one message; returns Telegram's message id or raises DeliveryError."""
        body = json.dumps({"chat_id": self.chat_id, "text": text}).encode()
        request = urllib.request.Request(
            f"{self.api_url}/bot{self.token}/sendMessage", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(65536)
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"HTTP {error.code} from Telegram") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            raise DeliveryError(f"Telegram unreachable: {getattr(error, 'reason', error)}") from None
        try:
            answer = json.loads(raw)
            if not answer.get("ok"):
                raise DeliveryError(f"Telegram refused the message: {answer.get('description', 'no reason')}")
            return int(answer["result"]["message_id"])
        except DeliveryError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DeliveryError("malformed answer from Telegram") from None


def client_from_settings(settings) -> TelegramClient | None:
    """The Telegram client, or None (with one warning) when sending is disabled or misconfigured."""
    if not settings.telegram_enabled:
        log.warning("Telegram notifications are disabled (TELEGRAM_ENABLED is not true): outbox rows stay pending")
        return None
    if not _TOKEN_FORMAT.match(settings.telegram_bot_token or ""):
        log.warning("TELEGRAM_BOT_TOKEN is missing or malformed: Telegram notifications are disabled")
        return None
    if not settings.telegram_chat_id:
        log.warning("TELEGRAM_CHAT_ID is missing: Telegram notifications are disabled")
        return None
    return TelegramClient(settings.telegram_api_url, settings.telegram_bot_token, settings.telegram_chat_id)


def backlog(conn: psycopg.Connection) -> int:
    """Notifications waiting to be sent (pending, due or not)."""
    return outbox_repo.count_pending(conn)


def backoff_seconds(attempt_number: int, base: float = BASE_BACKOFF_SECONDS) -> float:
    """Wait after the n-th failed attempt: base, 2·base, 4·base, … capped."""
    return min(MAX_BACKOFF_SECONDS, base * (2 ** (attempt_number - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def deliver_due(conn: psycopg.Connection, client: TelegramClient, *, batch: int = 10,
                max_attempts: int = MAX_ATTEMPTS, base_backoff: float = BASE_BACKOFF_SECONDS,
                worker: str | None = None) -> int:
    """Claim and send up to `batch` due notifications in one transaction; returns how many were tried."""
    worker = worker or worker_name()
    with conn.transaction():
        rows = outbox_repo.claim_due(conn, batch)
        for row in rows:
            attempt_number = row["attempts"] + 1
            try:
                message_id = client.send(row["message"])
            except DeliveryError as error:
                give_up = attempt_number >= max_attempts
                outbox_repo.mark_failed(conn, row["id"], str(error), backoff_seconds(attempt_number, base_backoff),
                                        give_up)
                outbox_repo.insert_attempt(conn, outbox_id=row["id"], attempt_number=attempt_number,
                                           status="failed", telegram_message_id=None, error=str(error),
                                           worker=worker)
                log.warning("notification %s attempt %s failed%s: %s", row["id"], attempt_number,
                            " (giving up)" if give_up else "", error)
            else:
                outbox_repo.mark_sent(conn, row["id"], message_id)
                outbox_repo.insert_attempt(conn, outbox_id=row["id"], attempt_number=attempt_number,
                                           status="sent", telegram_message_id=message_id, error=None,
                                           worker=worker)
                log.info("notification %s sent as Telegram message %s", row["id"], message_id)
    return len(rows)


def run_worker(database_url: str, client: TelegramClient, *, interval: float = 1.0, batch: int = 10,
               once: bool = False, max_attempts: int = MAX_ATTEMPTS,
               base_backoff: float = BASE_BACKOFF_SECONDS, stop=None, settings=None) -> None:
    """Drain the outbox until stopped (or once, with `once`); survives database restarts.

    Its connection has the pool's session settings and statement timeout (`settings`, default
    the environment's): a stuck statement cannot hold the claimed rows' locks for ever.
    """
    conn = None
    while stop is None or not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = db.connect(database_url, settings=settings)
            handled = deliver_due(conn, client, batch=batch, max_attempts=max_attempts, base_backoff=base_backoff)
        except psycopg.OperationalError as error:
            log.warning("outbox worker lost the database, retrying in %.0f s: %s", interval, error)
            if conn is not None:
                conn.close()
            conn, handled = None, 0
        if once and handled == 0:
            break
        if handled < batch:
            time.sleep(interval)
    if conn is not None:
        conn.close()


def start_worker_thread(settings) -> tuple[threading.Thread, threading.Event] | None:
    """This web process's delivery thread when Telegram is configured (warn once when not):
    the thread and the event that stops it; None when none was started."""
    client = client_from_settings(settings)
    if client is None or not settings.notifications_worker_thread:
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(settings.database_url, client),
        kwargs={"interval": 2.0, "stop": stop, "settings": settings}, name="cms-outbox-worker", daemon=True,
    )
    thread.start()
    return thread, stop
