"""Run-time settings (maintenance mode, global discount) shared by every instance, and pricing.

The row lives in PostgreSQL; each process caches it for CACHE_SECONDS (SettingsCache), so a
change made on one instance takes effect everywhere within that time, with no restart and
without a query per request.

Pricing: while the admin's global discount is active, every car is shown (and sold) at its
discounted price, with its original price and the discount's label beside it. Every car
leaves the services through priced() or pricer(), so a schema only presents prices.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from psycopg import Connection

from cms.errors import Invalid
from cms.repositories import settings as settings_repo
from cms.services import audit
from cms.services.access import Caller

CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class RuntimeSettings:
    maintenance_enabled: bool
    maintenance_message: str
    discount_percent: Decimal
    discount_label: str | None
    discount_starts_at: dt.datetime | None
    discount_ends_at: dt.datetime | None

    def discount_active(self, now: dt.datetime | None = None) -> bool:
        """True when a non-zero discount applies at `now` (UTC, naive)."""
        if self.discount_percent <= 0:
            return False
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if self.discount_starts_at and now < self.discount_starts_at:
            return False
        if self.discount_ends_at and now >= self.discount_ends_at:
            return False
        return True

    def discounted(self, price: Decimal) -> Decimal:
        """The price after the active discount (to the cent), or the price itself."""
        if price is None or not self.discount_active():
            return price
        factor = (Decimal(100) - self.discount_percent) / Decimal(100)
        return (Decimal(price) * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def from_row(row: dict) -> RuntimeSettings:
    return RuntimeSettings(
        maintenance_enabled=row["maintenance_enabled"],
        maintenance_message=row["maintenance_message"],
        discount_percent=Decimal(row["discount_percent"]),
        discount_label=row["discount_label"],
        discount_starts_at=row["discount_starts_at"],
        discount_ends_at=row["discount_ends_at"],
    )


def load(conn: Connection) -> RuntimeSettings:
    """The settings as stored now (no cache: inside a write's transaction)."""
    return from_row(settings_repo.get_settings(conn))


class SettingsCache:
    """One process's copy of the settings, at most CACHE_SECONDS old (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value: RuntimeSettings | None = None
        self._loaded_at = 0.0

    def get(self, conn: Connection) -> RuntimeSettings:
        now = time.monotonic()
        with self._lock:
            if self._value is not None and now - self._loaded_at < CACHE_SECONDS:
                return self._value
        value = load(conn)
        with self._lock:
            self._value, self._loaded_at = value, now
        return value

    def forget(self) -> None:
        """Drop the copy (after a change made by this process)."""
        with self._lock:
            self._value = None


# --- pricing -----------------------------------------------------------------------

def discount_label(runtime: RuntimeSettings) -> str:
    return runtime.discount_label or f"{runtime.discount_percent.normalize():f}% off"


def priced(car: dict | None, runtime: RuntimeSettings | None) -> dict | None:
    """The car as buyers see it: while a discount is active, `price` discounted and
    `original_price` / `discount_label` set; otherwise the car as it is."""
    if car is None or runtime is None or car.get("price") is None or not runtime.discount_active():
        return car
    return {**car, "price": runtime.discounted(car["price"]), "original_price": car["price"],
            "discount_label": discount_label(runtime)}


Pricer = Callable[[Decimal], tuple[Decimal, Decimal, str]]


def pricer(runtime: RuntimeSettings | None) -> Pricer | None:
    """For long lists: price -> (shown price, original price, label), memoised per price;
    None when no discount is active (prices are shown as they are)."""
    if runtime is None or not runtime.discount_active():
        return None
    label = discount_label(runtime)
    memo: dict = {}  # a few thousand distinct prices at most

    def price(amount: Decimal) -> tuple[Decimal, Decimal, str]:
        if amount not in memo:
            memo[amount] = (runtime.discounted(amount), amount, label)
        return memo[amount]

    return price


# --- the admin's settings ----------------------------------------------------------------

def get_settings(conn: Connection) -> dict:
    """The settings row as stored (who changed it last, when)."""
    return settings_repo.get_settings(conn)


def update_settings(conn: Connection, caller: Caller, changes: dict, *, audit_details: dict) -> dict:
    """Apply `changes` (audited with `audit_details`, the changes as the API names them);
    a discount must start before it ends."""
    with conn.transaction():
        current = settings_repo.lock_settings(conn)
        merged = {**current, **changes}
        starts, ends = merged["discount_starts_at"], merged["discount_ends_at"]
        if starts and ends and starts >= ends:
            raise Invalid("The discount must start before it ends",
                          {"discountEndsAt": ["Must be after discountStartsAt."]})
        updated = settings_repo.update_settings(conn, merged, caller.id)
        audit.record(conn, caller, "update_settings", None, audit_details)
    return updated
