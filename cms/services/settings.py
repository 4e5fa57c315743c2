"""Run-time settings (maintenance mode, global discount) shared by every instance.

The row lives in PostgreSQL; each process caches it for CACHE_SECONDS, so a
change made on one instance takes effect everywhere within that time, with no
restart and without a query per request.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app, g, has_request_context

from cms import db
from cms.repositories import settings as settings_repo

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


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.value: RuntimeSettings | None = None
        self.loaded_at = 0.0


def from_row(row: dict) -> RuntimeSettings:
    return RuntimeSettings(
        maintenance_enabled=row["maintenance_enabled"],
        maintenance_message=row["maintenance_message"],
        discount_percent=Decimal(row["discount_percent"]),
        discount_label=row["discount_label"],
        discount_starts_at=row["discount_starts_at"],
        discount_ends_at=row["discount_ends_at"],
    )


def current() -> RuntimeSettings:
    """The settings as of at most CACHE_SECONDS ago; one value for the whole request."""
    if has_request_context() and "runtime_settings" in g:
        return g.runtime_settings
    value = _cached()
    if has_request_context():
        g.runtime_settings = value
    return value


def _cached() -> RuntimeSettings:
    cache: _Cache = current_app.extensions.setdefault("cms.settings_cache", _Cache())
    now = time.monotonic()
    with cache.lock:
        if cache.value is not None and now - cache.loaded_at < CACHE_SECONDS:
            return cache.value
    value = from_row(settings_repo.get_settings(db.connection()))
    with cache.lock:
        cache.value, cache.loaded_at = value, now
    return value


def forget_cached() -> None:
    """Drop this process's cached copy (after a change made here)."""
    cache = current_app.extensions.get("cms.settings_cache")
    if cache is not None:
        with cache.lock:
            cache.value = None
