"""Messages to the team's Telegram chat (new inquiries, confirmed payments).

One small interface, `Notifier.send(text)`, with three implementations:

- `TelegramNotifier` queues the text and returns at once; a daemon worker thread
  posts it to `{TELEGRAM_API_URL}/bot{token}/sendMessage`, trying up to 3 times
  with exponential backoff and a timeout per attempt, and logs the outcome. A
  slow, failing or hanging Telegram never delays or fails a request. Messages
  still queued when the process exits are lost (a durable outbox is planned).
- `DisabledNotifier` drops messages: chosen, with one warning at start-up, when
  TELEGRAM_ENABLED is false or the token or chat id is missing.
- `RecordingNotifier` keeps the messages in a list: the test double.

`init_app(app)` puts the notifier in `app.extensions["cms.notifier"]`; handlers
call `notify(text)` (or the formatting helpers below) after their transaction
has committed, so a message never announces something that was rolled back.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from flask import Flask, current_app

log = logging.getLogger(__name__)

EXTENSION_KEY = "cms.notifier"
TELEGRAM_MAX_TEXT = 4096
MESSAGE_EXCERPT = 500


@runtime_checkable
class Notifier(Protocol):
    def send(self, text: str) -> None:
        """Hand the message over for delivery; returns at once and never raises."""


class DisabledNotifier:
    """Drops every message (notifications are switched off or not configured)."""

    def send(self, text: str) -> None:
        log.debug("notification not sent (notifications disabled): %.80s", text)


class RecordingNotifier:
    """Test double: records the messages that would have been sent."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def send(self, text: str) -> None:
        with self._lock:
            self.messages.append(text)


_STOP = object()


class _PermanentFailure(Exception):
    """Telegram refused the message in a way a retry cannot fix (e.g. bad token, unknown chat)."""


class TelegramNotifier:
    """Posts messages to a Telegram chat from a background daemon thread."""

    def __init__(self, bot_token: str, chat_id: str, api_url: str = "https://api.telegram.org", *,
                 attempts: int = 3, backoff_seconds: float = 1.0, timeout_seconds: float = 10.0,
                 queue_size: int = 1000) -> None:
        self._url = f"{api_url.rstrip('/')}/bot{bot_token}/sendMessage"
        self._safe_url = f"{api_url.rstrip('/')}/bot***/sendMessage"
        self.chat_id = chat_id
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def send(self, text: str) -> None:
        """Queue the message for the worker thread; never blocks, never raises."""
        try:
            work = self._ensure_worker()
            work.put_nowait(text[:TELEGRAM_MAX_TEXT])
        except queue.Full:
            log.error("telegram notification dropped: %d messages are already waiting", self._queue_size)
        except Exception:  # noqa: BLE001 - a notification must never fail the request
            log.exception("telegram notification could not be queued")

    def deliver(self, text: str) -> bool:
        """Post one message now, retrying with exponential backoff; True when Telegram accepted it."""
        for attempt in range(1, self.attempts + 1):
            try:
                self._post(text)
            except _PermanentFailure as error:
                log.error("telegram notification refused, not retrying: %s", error)
                return False
            except Exception as error:  # noqa: BLE001 - network errors, timeouts, 5xx: retry
                if attempt == self.attempts:
                    log.error("telegram notification failed after %d attempts: %s", attempt, error)
                    return False
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning("telegram notification attempt %d failed (%s); retrying in %.1f s",
                            attempt, error, delay)
                time.sleep(delay)
            else:
                log.info("telegram notification sent (attempt %d)", attempt)
                return True
        return False

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker after the messages already queued (waits at most `timeout` seconds)."""
        with self._lock:
            thread, work = self._thread, self._queue
            self._thread = None
        if thread is not None and thread.is_alive():
            try:
                work.put(_STOP, timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)

    def _post(self, text: str) -> None:
        body = json.dumps({"chat_id": self.chat_id, "text": text}).encode("utf-8")
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code not in (408, 429):
                raise _PermanentFailure(f"HTTP {error.code} from {self._safe_url}") from None
            raise RuntimeError(f"HTTP {error.code} from {self._safe_url}") from None

    def _ensure_worker(self) -> queue.Queue:
        with self._lock:
            if os.getpid() != self._pid:  # forked (e.g. a gunicorn worker): start afresh
                self._pid = os.getpid()
                self._queue = queue.Queue(maxsize=self._queue_size)
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="telegram-notifier", daemon=True
                )
                self._thread.start()
            return self._queue

    def _run(self, work: queue.Queue) -> None:
        while True:
            text = work.get()
            if text is _STOP:
                return
            try:
                self.deliver(text)
            except Exception:  # noqa: BLE001 - keep the worker alive whatever happens
                log.exception("telegram notification worker error")


def build_notifier(settings) -> Notifier:
    """The notifier the settings ask for; warns once when notifications are off."""
    if not settings.telegram_enabled:
        log.warning("Telegram notifications are disabled (TELEGRAM_ENABLED is not true): "
                    "new inquiries and payments will not be announced")
        return DisabledNotifier()
    missing = [name for name, value in (("TELEGRAM_BOT_TOKEN", settings.telegram_bot_token),
                                        ("TELEGRAM_CHAT_ID", settings.telegram_chat_id)) if not value]
    if missing:
        log.warning("Telegram notifications are disabled: %s not set", " and ".join(missing))
        return DisabledNotifier()
    log.info("Telegram notifications are enabled (chat %s)", settings.telegram_chat_id)
    return TelegramNotifier(settings.telegram_bot_token, settings.telegram_chat_id, settings.telegram_api_url)


_lazy_lock = threading.Lock()


def init_app(app: Flask, notifier: Notifier | None = None) -> None:
    """Store the notifier (by default the one the settings ask for) in app.extensions."""
    app.extensions[EXTENSION_KEY] = notifier or build_notifier(app.config["CMS_SETTINGS"])


def get_notifier(app: Flask | None = None) -> Notifier:
    """The app's notifier; built from the settings on first use if init_app was not called."""
    app = app or current_app._get_current_object()
    notifier = app.extensions.get(EXTENSION_KEY)
    if notifier is None:
        with _lazy_lock:
            notifier = app.extensions.get(EXTENSION_KEY)
            if notifier is None:
                notifier = build_notifier(app.config["CMS_SETTINGS"])
                app.extensions[EXTENSION_KEY] = notifier
    return notifier


def notify(text: str) -> None:
    """Send a message through the current app's notifier; never raises, never waits."""
    try:
        get_notifier().send(text)
    except Exception:  # noqa: BLE001 - a notification must never fail the request
        log.exception("notification could not be sent")


# --- messages ---------------------------------------------------------------------

def _field(obj: Any, name: str) -> Any:
    """A value from a row (dict) or an object (e.g. the current user)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _person(user: Any) -> str:
    name = (_field(user, "name") or "").strip() or "Someone"
    email = (_field(user, "email") or "").strip()
    user_id = _field(user, "id")
    label = f"{name} <{email}>" if email else name
    return f"{label} (user #{user_id})" if user_id is not None else label


def _car(car: Any) -> str:
    title = (_field(car, "title") or "").strip() or "Untitled car"
    return f'"{title}" (car #{_field(car, "id")})'


def _money(value: Any) -> str:
    if value is None:
        return "an unknown price"
    try:
        return f"${Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def inquiry_message(inquiry: Any, car: Any, buyer: Any) -> str:
    """The text announcing a new inquiry: the car, the buyer, the request."""
    kind = "Test drive request" if _field(inquiry, "type") == "test_drive" else "New inquiry"
    lines = [f"{kind} #{_field(inquiry, 'id')} for {_car(car)}", f"From: {_person(buyer)}"]
    requested = _field(inquiry, "requested_date")
    if requested:
        lines.append(f"Requested date: {requested}")
    message = (_field(inquiry, "message") or "").strip()
    if len(message) > MESSAGE_EXCERPT:
        message = message[:MESSAGE_EXCERPT] + "…"
    lines.append(f"Message: {message}")
    return "\n".join(lines)


def payment_message(order: Any, car: Any, buyer: Any) -> str:
    """The text announcing a confirmed payment."""
    return "\n".join([
        f"Payment confirmed: order #{_field(order, 'id')}",
        f"Car: {_car(car)}",
        f"Buyer: {_person(buyer)}",
        f"Amount: {_money(_field(order, 'final_price'))}",
    ])


def notify_inquiry_created(inquiry: Any, car: Any, buyer: Any) -> None:
    """Announce a new inquiry; call it after the inquiry's transaction committed."""
    notify(inquiry_message(inquiry, car, buyer))


def notify_payment_confirmed(order: Any, car: Any, buyer: Any) -> None:
    """Announce a confirmed payment; call it after the payment's transaction committed.

    `order`, `car` and `buyer` are rows (dicts with column names: order id and
    final_price, car id and title, buyer id, name and email) or objects with
    those attributes (e.g. flask_login's current_user).
    """
    notify(payment_message(order, car, buyer))
