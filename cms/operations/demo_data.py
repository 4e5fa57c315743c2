"""Demo data at marketplace scale: accounts, cars, images, reviews, orders, inquiries, favorites.

Every row is generated inside PostgreSQL by the set-based statements of
sql/demo/demo_data.sql (generate_series, no row-by-row traffic), in batches of
cars committed one by one, on `jobs` connections at once. Nothing is dropped or
disabled: indexes, constraints and triggers stay as they are, so the database
is exactly what the service would have built. A run adds `cars` listings to
whatever is there; demo accounts left by an earlier run are reused.

Sizes follow the number of cars: one seller per 200 cars, one buyer per 20
(at least 5 and 20), one to three image rows per car (plain /images/carN.png
links, no bytes), about 0.9 reviews, 0.4 inquiries and 0.12 orders per car,
and about eight favorites per buyer. Every demo account has the same password
(hashed once with bcrypt cost 10): demo.admin@example.com,
demo.seller<k>@example.com and demo.buyer<k>@example.com.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import bcrypt
import psycopg

from cms import db
from cms.db import ROOT, Query, latest_migration_file_version, parse_query_file

DEMO_SQL_FILE = ROOT / "sql" / "demo" / "demo_data.sql"
DEMO_QUERIES: dict[str, Query] = {item.name: item for item in parse_query_file(DEMO_SQL_FILE)}

DEMO_PASSWORD = "Demo-pass-1"
DEMO_ADMIN_EMAIL = "demo.admin@example.com"
BCRYPT_COST = 10
CARS_PER_SELLER = 200
CARS_PER_BUYER = 20
BUYERS_PER_FAVORITES_BATCH = 5000

# Per batch of cars, in this order (each reads the cars of the batch by primary key).
CAR_BATCH_STEPS = (
    ("cars", "demo_insert_cars"),
    ("car_images", "demo_insert_images"),
    ("reviews", "demo_insert_reviews"),
    ("orders", "demo_insert_orders"),
    ("inquiries", "demo_insert_inquiries"),
    ("admin_actions", "demo_insert_admin_actions"),
)
SESSION_SETUP = (
    "demo_session_no_wait", "demo_session_no_jit", "demo_create_rand_function",
    "demo_create_words", "demo_create_models", "demo_create_user_maps",
)

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): called after each batch of a phase ("cars", "favorites")."""


class DemoDataError(Exception):
    """The database cannot take demo data (unreachable, not migrated)."""


def demo_email(role: str, k: int) -> str:
    """Email of the k-th demo seller ("seller") or buyer ("user"), k from 1."""
    return f"demo.{'seller' if role == 'seller' else 'buyer'}{k}@example.com"


@dataclass
class DemoPlan:
    """How much to generate, and how."""

    cars: int
    seed: int = 1
    batch_size: int = 20_000
    jobs: int = 2
    password: str = DEMO_PASSWORD
    base_time: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    )

    @property
    def sellers(self) -> int:
        return max(5, self.cars // CARS_PER_SELLER)

    @property
    def buyers(self) -> int:
        return max(20, self.cars // CARS_PER_BUYER)

    def car_batches(self) -> list[tuple[int, int]]:
        """(first, last) car numbers of each batch, 1-based and inclusive."""
        return [(first, min(first + self.batch_size - 1, self.cars))
                for first in range(1, self.cars + 1, self.batch_size)]

    def buyer_batches(self) -> list[tuple[int, int]]:
        step = BUYERS_PER_FAVORITES_BATCH
        return [(first, min(first + step - 1, self.buyers)) for first in range(1, self.buyers + 1, step)]


@dataclass
class DemoSummary:
    """What a run added (rows per table), the table totals afterwards, and the time taken per phase."""

    inserted: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    first_car_id: int = 0
    last_car_id: int = 0


def _run(conn: psycopg.Connection, name: str, params: dict | None = None) -> psycopg.Cursor:
    return conn.execute(DEMO_QUERIES[name].sql, params or {})


def connect(database_url: str) -> psycopg.Connection:
    """An autocommit connection with dict rows and the demo session settings and temporary tables.

    No statement timeout: at a million cars a batch or the final VACUUM (ANALYZE) runs longer
    than any request may.
    """
    conn = db.connect(database_url, statement_timeout_ms=0, direct=True)
    for name in SESSION_SETUP:
        _run(conn, name)
    return conn


def check_schema(database_url: str) -> None:
    """Raise DemoDataError unless the database answers and has every migration applied."""
    expected = latest_migration_file_version()
    try:
        with db.connect(database_url, direct=True) as conn:
            applied = db.applied_migration(conn)
    except psycopg.errors.UndefinedTable:
        raise DemoDataError("the database has no schema: run the migrations first (cms db up)") from None
    except psycopg.Error as error:
        raise DemoDataError(f"cannot reach the database: {error}".strip()) from None
    if applied != expected:
        raise DemoDataError(
            f"the database schema is at migration {applied or 'none'}, this release needs {expected}: "
            "run the migrations first (cms db up)"
        )


def _load_accounts(conn: psycopg.Connection) -> None:
    _run(conn, "demo_fill_user_maps")
    _run(conn, "demo_analyze_user_maps")


def _parallel(plan: DemoPlan, database_url: str, work: list[tuple[int, int]],
              step: Callable[[psycopg.Connection, int, int], dict[str, int]],
              on_done: Callable[[int, int, dict[str, int]], None]) -> None:
    """Run step(conn, first, last) for every range of `work` on `plan.jobs` connections."""
    pending: queue.Queue = queue.Queue()
    for item in work:
        pending.put(item)
    results: queue.Queue = queue.Queue()

    def worker() -> None:
        try:
            with connect(database_url) as conn:
                _load_accounts(conn)
                while True:
                    try:
                        first, last = pending.get_nowait()
                    except queue.Empty:
                        return
                    with conn.transaction():
                        counts = step(conn, first, last)
                    results.put((first, last, counts, None))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            results.put((0, 0, {}, error))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, min(plan.jobs, len(work))))]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < len(work):
        first, last, counts, error = results.get()
        if error is not None:
            while not pending.empty():  # stop the other workers after their current batch
                try:
                    pending.get_nowait()
                except queue.Empty:
                    break
            for thread in threads:
                thread.join()
            raise error
        finished += 1
        on_done(first, last, counts)
    for thread in threads:
        thread.join()


def generate(database_url: str, plan: DemoPlan, progress: Progress | None = None) -> DemoSummary:
    """Fill the database with plan.cars listings and everything around them; returns what was added."""
    check_schema(database_url)
    progress = progress or (lambda phase, done, total: None)
    summary = DemoSummary()
    inserted = summary.inserted
    started = time.monotonic()
    password_hash = bcrypt.hashpw(plan.password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()

    with connect(database_url) as conn:
        users = _run(conn, "demo_insert_users", {
            "password_hash": password_hash, "base_time": plan.base_time,
            "n_sellers": plan.sellers, "n_buyers": plan.buyers,
        }).rowcount
        inserted["users"] = users
        admin_id = _run(conn, "demo_admin_id").fetchone()["id"]
        base_id = _run(conn, "demo_reserve_car_ids", {"n": plan.cars}).fetchone()["base_id"] if plan.cars else 0
    summary.first_car_id, summary.last_car_id = base_id + 1, base_id + plan.cars
    summary.seconds["accounts"] = time.monotonic() - started

    common = {
        "seed": plan.seed, "base_id": base_id, "base_time": plan.base_time, "total": max(plan.cars, 1),
        "n_sellers": plan.sellers, "n_buyers": plan.buyers, "admin_id": admin_id,
    }

    def car_batch(conn: psycopg.Connection, first: int, last: int) -> dict[str, int]:
        params = {**common, "first": first, "last": last}
        return {table: _run(conn, name, params).rowcount for table, name in CAR_BATCH_STEPS}

    def favorites_batch(conn: psycopg.Connection, first: int, last: int) -> dict[str, int]:
        params = {**common, "first": first, "last": last}
        return {"favorites": _run(conn, "demo_insert_favorites", params).rowcount}

    def collect(phase: str, total: int, unit: Callable[[int, int], int]):
        done = [0]

        def on_done(first: int, last: int, counts: dict[str, int]) -> None:
            for table, count in counts.items():
                inserted[table] = inserted.get(table, 0) + count
            done[0] += unit(first, last)
            progress(phase, done[0], total)

        return on_done

    phase_started = time.monotonic()
    if plan.cars:
        _parallel(plan, database_url, plan.car_batches(), car_batch,
                  collect("cars", plan.cars, lambda first, last: last - first + 1))
        summary.seconds["cars"] = time.monotonic() - phase_started

        phase_started = time.monotonic()
        _parallel(plan, database_url, plan.buyer_batches(), favorites_batch,
                  collect("favorites", plan.buyers, lambda first, last: last - first + 1))
        summary.seconds["favorites"] = time.monotonic() - phase_started

    phase_started = time.monotonic()
    progress("analyze", 0, 1)
    with connect(database_url) as conn:
        _run(conn, "demo_vacuum_analyze")
        summary.totals = dict(_run(conn, "demo_table_counts").fetchone())
    progress("analyze", 1, 1)
    summary.seconds["analyze"] = time.monotonic() - phase_started
    summary.seconds["total"] = time.monotonic() - started
    return summary
