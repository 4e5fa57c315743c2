#!/usr/bin/env python3
"""Benchmark harness (`make bench`): the production server under wrk at 10k and 1M cars.

For each size it creates (once) and reuses a database cms_bench_<size> on the
PostgreSQL server of ADMIN_URL, filled by cms.operations.demo_data, starts the service as
production runs it (`python -m cms.server`, granian) on a free port, drives every route of issue 5
with wrk (-t2 -c16, Lua scripts in bench/lua/) and prints one table per size,
the ratio p50(1M) / p50(10k) per route, and pgbench -S at the same concurrency
as the ceiling. The report goes to bench/results/<date>.md.

    .venv/bin/python bench/run.py            # 10k and 1M, 15 s per route
    .venv/bin/python bench/run.py --quick    # smoke run: 10k only, 3 s per route

See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import gzip
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # the private PgBouncer and replica of tests/support

import bcrypt  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql as pgsql  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from cms import db as cms_db  # noqa: E402
from cms.config import load_settings  # noqa: E402
from cms.db import parse_query_file  # noqa: E402
from cms.operations.demo_data import DEMO_PASSWORD, DEMO_SQL_FILE, DemoPlan, demo_email, generate  # noqa: E402

BENCH_DIR = ROOT / "bench"
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"
BENCH_SQL = {item.name: item for item in parse_query_file(ROOT / "sql" / "demo" / "bench.sql")}
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", f"postgresql://{getpass.getuser()}@127.0.0.1:5432/postgres")
# The databases are <prefix>_10k and <prefix>_1m: another prefix keeps a second set (e.g. one
# migrated by another branch) apart from the default one.
DATABASE_PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "cms_bench")
# The checkout whose service is measured (its .venv's python runs `-m cms.server`): another one
# measures other code with this harness in the same sitting (before/after).
SERVER_ROOT = Path(os.environ.get("BENCH_SERVER_ROOT", ROOT)).resolve()
SIZES = {"10k": 10_000, "1m": 1_000_000}
SEED = 1
PGBENCH_DB = "cms_bench_pgbench"
PGBENCH_SCALE = 10

# Routes, in the order of the tables. "paged" routes are those held to p50(1M) <= 1.5 x p50(10k).
ROUTES = (
    ("newest", "GET /api/cars?limit=20 (newest first)", True),
    ("brand_price", "GET /api/cars?brand=…&minPrice=…&maxPrice=…&limit=20", True),
    ("search", "GET /api/cars?q=…&limit=20 (full text)", True),
    ("deep_cursor", "GET /api/cars?limit=20&cursor=… (Link rel=next 99 % deep, newest)", True),
    ("deep_cursor_price", "GET /api/cars?sort=price_asc&limit=20&cursor=… (99 % deep)", True),
    ("relevance", "GET /api/cars?q=…&sort=relevance&limit=20", True),
    ("detail", "GET /api/cars/:id", True),
    ("detail_flask", "GET /api/cars/:id through Flask (CAR_DETAIL_LANE=false)", False),
    ("reviews", "GET /api/reviews/car/:id", True),
    ("favorites", "GET /api/favorites (auth)", True),
    ("login", "POST /api/auth/login", False),
    ("checkout", "POST checkout + confirm-payment (per request)", False),
    ("full_list", "GET /api/cars (no limit, every car)", False),
    ("floor", "floor app: 20 newest cars, Flask + pool + jsonify (bench/floor_app.py)", False),
    ("price_asc", "GET /api/cars?sort=price_asc&limit=20", True),
    ("brand_max", "GET /api/cars?brand=Toyota&maxPrice=50000&limit=20", True),
    ("electric", "GET /api/cars?q=electric&limit=20 (newest first)", True),
    ("electric_relevance", "GET /api/cars?q=electric&sort=relevance&limit=20", True),
    ("mix_100", "browsing mix, 100 connections", False),
    ("mix_1000", "browsing mix, 1,000 connections", False),
    ("floor_1000", "floor app, 1,000 connections", False),
)
# Issue 21: each list page as a share of the floor app's req/s (same sitting, same server shape).
BROWSE_PAGES = ("newest", "price_asc", "brand_max", "electric", "electric_relevance")
# The anonymous browsing mix (issue 21): shares of requests by kind, out of 100.
MIX_SHARES = {"list": 30, "filtered": 15, "search": 10, "detail": 35, "reviews": 10}
MIX_SORTS = ("newest", "price_asc", "price_desc", "year_desc")
# Read routes measured again behind PgBouncer and with a streaming replica (--topologies).
SCALE_OUT_ROUTES = ("newest", "brand_price", "search", "detail", "reviews")
TOPOLOGIES = {
    "direct": "granian → PostgreSQL (the shared server; the tables above)",
    "pgbouncer": "granian → PgBouncer 1.18 (pool_mode=transaction, 8 server connections) → the same server, "
                 "DB_POOL_MODE=transaction",
    "primary": "granian → a private PostgreSQL (initdb, fsync off) holding the same 10k demo cars",
    "replica": "the same private primary plus a streaming replica (pg_basebackup -R) in DATABASE_REPLICA_URL: "
               "these anonymous reads go to the replica",
}
PGBOUNCER_POOL_SIZE = 8
BRANDS = ("Toyota", "Volkswagen", "BMW", "Ford", "Skoda", "Audi", "Kia", "Honda")
PRICE_RANGES = ((5000, 15000), (10000, 25000), (20000, 40000))
SEARCH_TERMS = (
    "sunroof", "leather", "heated seats", "hybrid", "electric", "diesel", "tow hitch", "navigation",
    "panoramic roof", "warranty", "garage", "camera",
)
BUYERS_USED = 16


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_query(conn: psycopg.Connection, name: str, params: dict | None = None) -> list[dict]:
    cursor = conn.execute(BENCH_SQL[name].sql, params or {})
    return cursor.fetchall() if cursor.description else []


def database_url(name: str) -> str:
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


# --- databases ----------------------------------------------------------------------

def demo_fingerprint(cars: int) -> str:
    """Marker stored as the database comment: same marker, same data (size, seed, generator)."""
    digest = hashlib.sha256(DEMO_SQL_FILE.read_bytes()).hexdigest()[:12]
    return f"cms bench: {cars} cars, seed {SEED}, demo_data.sql {digest}"


def database_comment(name: str) -> str | None:
    with psycopg.connect(ADMIN_URL, autocommit=True, row_factory=dict_row) as conn:
        rows = run_query(conn, "bench_database_comment", {"name": name})
    return rows[0]["comment"] if rows else None


def migrate(url: str) -> None:
    """dbmate up with the migrations of the checkout being measured (SERVER_ROOT)."""
    if SERVER_ROOT == ROOT:
        cms_db.run_dbmate(url, "up")
        return
    subprocess.run([str(SERVER_ROOT / ".venv" / "bin" / "dbmate"), "--url", cms_db.dbmate_url(url),
                    "--migrations-dir", str(SERVER_ROOT / "sql" / "migrations"), "--no-dump-schema", "up"],
                   check=True, capture_output=True, text=True)


def ensure_bench_database(label: str, cars: int) -> tuple[str, float | None]:
    """The URL of <prefix>_<label> filled with `cars` demo cars; (url, seconds spent generating or None)."""
    name = f"{DATABASE_PREFIX}_{label}"
    url = database_url(name)
    marker = demo_fingerprint(cars)
    comment = database_comment(name)
    if comment == marker:
        migrate(url)  # a migration added since (e.g. an index) applies to the old data too
        log(f"reusing {name} ({marker})")
        return url, None
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if comment is not None:
            log(f"{name} holds other data ({comment or 'no marker'}): recreating it")
            conn.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    migrate(url)
    log(f"filling {name} with {cars:,} cars (cms demo-data) ...")
    started = time.monotonic()
    last = {"tenth": -1}

    def progress(phase: str, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if phase == "analyze" and done == 0:
            log("  VACUUM (ANALYZE) ...")
        elif phase != "analyze" and (tenth > last["tenth"] or done >= total):
            last["tenth"] = tenth if done < total else -1
            log(f"  {phase}: {done:,}/{total:,} after {time.monotonic() - started:.0f} s")

    summary = generate(url, DemoPlan(cars=cars, seed=SEED, jobs=max(1, os.cpu_count() or 2)), progress)
    seconds = time.monotonic() - started
    log(f"  done in {seconds:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in summary.totals.items()))
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(pgsql.Identifier(name), pgsql.Literal(marker)))
    return url, seconds


# --- the server ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    jwt_secret: str

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def worker_rss_kb(self) -> dict[int, int]:
        sizes = {}
        for pid in self.worker_pids():
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            if match:
                sizes[pid] = int(match.group(1))
        return sizes


@contextmanager
def running_server(url: str, workers: int, threads: int, pool_max: int, log_dir: Path, extra_env: dict | None = None):
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    jwt_secret = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "JWT_SECRET": jwt_secret,
        "APP_ENV": "production",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DB_POOL_MIN": str(threads),
        "DB_POOL_MAX": str(pool_max),
        "TELEGRAM_ENABLED": "false",
        **(extra_env or {}),
    }
    python = SERVER_ROOT / ".venv" / "bin" / "python" if SERVER_ROOT != ROOT else Path(sys.executable)
    command = [
        str(python), "-m", "cms.server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--threads", str(threads),
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=SERVER_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log_path, jwt_secret)
    try:
        wait_until_ready(process, log_path, "the server",
                         lambda: http(server.base_url + "/ping")[0] == 200 and len(server.worker_pids()) >= workers)
        yield server
    finally:
        stop(process)


def wait_until_ready(process: subprocess.Popen, log_path: Path, what: str, ready) -> None:
    """Until ready() holds (60 s at most); RuntimeError when the process exits or time is up."""
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; see {log_path}")
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within 60 s; see {log_path}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_floor(url: str, options: Options, log_dir: Path):
    """The floor app (bench/floor_app.py) under granian, same workers and threads as the service;
    yields its base URL."""
    port = free_port()
    log_path = log_dir / f"floor-{port}.log"
    env = {**os.environ, "DATABASE_URL": url, "DB_POOL_MIN": str(options.server_threads),
           "DB_POOL_MAX": str(options.pool_max)}
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(options.workers), "--blocking-threads", str(options.server_threads), "--no-log",
               "bench.floor_app:app"]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, log_path, "the floor app", lambda: http(base_url + "/api/cars")[0] == 200)
        yield base_url
    finally:
        stop(process)


def http(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None,
         timeout: float = 60) -> tuple[int, dict, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


# --- load ---------------------------------------------------------------------------

@dataclass
class Measurement:
    route: str
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    body_bytes: int | None = None
    errors: int = 0
    requests: int = 0
    extra: dict = field(default_factory=dict)


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("wrk is missing: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def run_wrk(base_url: str, script: str, env: dict, seconds: float, connections: int, threads: int) -> dict:
    command = [
        ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
        "-s", str(LUA_DIR / script), base_url,
    ]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    raise RuntimeError(f"wrk printed no result (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def write_requests(path: Path, lines: list[tuple[str, str, str, str]]) -> Path:
    with open(path, "w") as handle:
        for method, target, token, body in lines:
            handle.write(f"{method}\t{target}\t{token}\t{body}\n")
    return path


def to_measurement(route: str, result: dict, body_bytes: int | None) -> Measurement:
    seconds = result["duration_us"] / 1e6
    errors = sum(result[key] for key in result if key.startswith("errors_"))
    return Measurement(
        route=route,
        requests_per_s=result["requests"] / seconds if seconds else 0.0,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        body_bytes=body_bytes,
        errors=errors,
        requests=result["requests"],
        extra=result,
    )


@dataclass
class Options:
    seconds: float
    warmup: float
    connections: int
    threads: int
    workers: int
    server_threads: int
    pool_max: int


class SizeRun:
    """Everything measured at one data size."""

    def __init__(self, label: str, url: str, server: Server, options: Options, work_dir: Path):
        self.label = label
        self.url = url
        self.server = server
        self.options = options
        self.work_dir = work_dir
        self.results: dict[str, Measurement] = {}
        self.notes: dict[str, object] = {}
        self.rng = random.Random(SEED)
        self.only: set[str] = set()

    # -- fixtures from the database
    def sample_cars(self, count: int, status: str = "available") -> list[int]:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            bounds = run_query(conn, "bench_car_id_range")[0]
            found: list[int] = []
            while len(found) < count:
                ids = [self.rng.randint(bounds["first_id"], bounds["last_id"]) for _ in range(count * 2)]
                found += [row["id"] for row in run_query(conn, "bench_existing_cars", {"ids": ids, "status": status})]
            return found[:count]

    def reviewed_cars(self, count: int) -> list[int]:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            candidates = self.sample_cars(count * 3)
            rows = run_query(conn, "bench_reviewed_cars", {"ids": candidates})
            return [row["car_id"] for row in rows][:count]

    def login(self, email: str) -> str:
        status, _, body = http(self.server.base_url + "/api/auth/login", "POST",
                               {"email": email, "password": DEMO_PASSWORD})
        if status != 200:
            raise RuntimeError(f"login of {email} failed: {status} {body[:200]!r}")
        return json.loads(body)["token"]

    # -- one route
    def measure(self, route: str, lines: list[tuple[str, str, str, str]], *, seconds: float | None = None,
                extra_env: dict | None = None, base_url: str | None = None,
                connections: int | None = None) -> Measurement:
        options = self.options
        base_url = base_url or self.server.base_url
        connections = connections or options.connections
        requests_file = write_requests(self.work_dir / f"{self.label}-{route}.tsv", lines)
        env = {"BENCH_REQUESTS": str(requests_file), **(extra_env or {})}
        method, target, token, body = lines[0]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, response_headers, payload = http(base_url + target, method,
                                                 json.loads(body) if body else None, headers)
        if status >= 400:
            raise RuntimeError(f"{route}: {method} {target} answered {status}: {payload[:300]!r}")
        if options.warmup:
            run_wrk(base_url, "requests.lua", env, options.warmup, connections, options.threads)
        result = run_wrk(base_url, "requests.lua", env, seconds or options.seconds, connections, options.threads)
        measurement = to_measurement(route, result, len(payload))
        measurement.extra["total_count"] = response_headers.get("x-total-count")
        self.results[route] = measurement
        log(f"  {route:12} {measurement.requests_per_s:9.1f} req/s  p50 {measurement.p50_ms:8.2f} ms  "
            f"p99 {measurement.p99_ms:8.2f} ms  {len(payload):>9,} B  errors {measurement.errors}")
        return measurement

    def deep_cursor_path(self, sort: str) -> str:
        """The URL a Link rel="next" gives for the page 99 % deep into the cars (990,000 of 1M):
        the cursor of the car just before it, signed as the server signs it (the bench knows its
        secret). The service's own Link header is checked against it on a shallow page."""
        from cms.services import cursors

        depth = SIZES[self.label] * 99 // 100
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            row = run_query(conn, "bench_position", {"sort": sort, "depth": depth - 1})[0]
        cursor = cursors.encode(cursors.Position(sort, row["sort_key"], row["id"]), {}, self.server.jwt_secret)
        path = f"/api/cars?sort={sort}&limit=20&cursor={quote(cursor)}"
        status, headers, body = http(self.server.base_url + path, timeout=60)
        if status != 200 or len(json.loads(body)) != 20 or "link" not in headers:
            raise RuntimeError(f"{path}: {status}, {body[:200]!r}")
        self.notes[f"deep_cursor_{sort}_depth"] = depth
        return path

    def wanted(self, route: str) -> bool:
        return not self.only or route in self.only

    def run_all(self, full_list: bool) -> None:
        options = self.options
        self.run_reads()
        self.run_browse()
        buyer_emails = [demo_email("user", k) for k in range(1, BUYERS_USED + 1)]
        tokens = [self.login(email) for email in buyer_emails]
        if self.wanted("favorites"):
            self.measure("favorites", [("GET", "/api/favorites", token, "") for token in tokens])
        if self.wanted("login"):
            self.measure("login", [
                ("POST", "/api/auth/login", "", json.dumps({"email": email, "password": DEMO_PASSWORD}))
                for email in buyer_emails
            ])
        if self.wanted("checkout"):
            self.measure_checkout(tokens[: options.threads])
        if full_list and self.wanted("full_list"):
            self.measure_full_list()
        elif self.wanted("full_list"):
            self.measure_full_list_once()

    def run_reads(self) -> None:
        """The anonymous read routes (the ones the scale-out topologies are measured on too)."""
        if self.wanted("newest"):
            self.measure("newest", [("GET", "/api/cars?limit=20", "", "")])
        if self.wanted("brand_price"):
            self.measure("brand_price", [
                ("GET", f"/api/cars?brand={brand}&minPrice={low}&maxPrice={high}&limit=20", "", "")
                for brand in BRANDS for low, high in PRICE_RANGES
            ])
        if self.wanted("search"):
            self.measure("search", [("GET", f"/api/cars?q={quote(term)}&limit=20", "", "") for term in SEARCH_TERMS])
        if self.wanted("deep_cursor"):
            self.measure("deep_cursor", [("GET", self.deep_cursor_path("newest"), "", "")])
        if self.wanted("deep_cursor_price"):
            self.measure("deep_cursor_price", [("GET", self.deep_cursor_path("price_asc"), "", "")])
        if self.wanted("relevance"):
            self.measure("relevance", [("GET", f"/api/cars?q={quote(term)}&sort=relevance&limit=20", "", "")
                                       for term in SEARCH_TERMS])
        if self.wanted("detail"):
            self.measure("detail", [("GET", f"/api/cars/{car_id}", "", "") for car_id in self.sample_cars(1000)])
        if self.wanted("detail_flask"):  # the same route on a server without the lane beneath Flask
            with running_server(self.url, self.options.workers, self.options.server_threads, self.options.pool_max,
                                self.work_dir, {"CAR_DETAIL_LANE": "false"}) as flask_only:
                self.measure("detail_flask", [("GET", f"/api/cars/{car_id}", "", "")
                                              for car_id in self.sample_cars(1000)], base_url=flask_only.base_url)
        if self.wanted("reviews"):
            self.measure("reviews", [("GET", f"/api/reviews/car/{car_id}", "", "")
                                     for car_id in self.reviewed_cars(500)])

    def run_browse(self) -> None:
        """Issue 21: the list pages next to the floor app, the browsing mix at 100 and 1,000
        connections, and conditional requests (304)."""
        if self.wanted("floor"):
            with running_floor(self.url, self.options, self.work_dir) as floor_url:
                self.measure("floor", [("GET", "/api/cars", "", "")], base_url=floor_url)
                if self.wanted("floor_1000"):
                    self.measure("floor_1000", [("GET", "/api/cars", "", "")], base_url=floor_url, connections=1000)
        pages = {
            "price_asc": "/api/cars?sort=price_asc&limit=20",
            "brand_max": "/api/cars?brand=Toyota&maxPrice=50000&limit=20",
            "electric": "/api/cars?q=electric&limit=20",
            "electric_relevance": "/api/cars?q=electric&sort=relevance&limit=20",
        }
        for route, path in pages.items():
            if self.wanted(route):
                self.measure(route, [("GET", path, "", "")])
        if self.wanted("mix_100") or self.wanted("mix_1000"):
            lines = self.browsing_mix()
            for route, connections in (("mix_100", 100), ("mix_1000", 1000)):
                if self.wanted(route):
                    self.measure(route, lines, connections=connections)
        if self.wanted("conditional"):
            self.notes["conditional"] = self.conditional_requests()

    def browsing_mix(self) -> list[tuple[str, str, str, str]]:
        """200 anonymous requests in MIX_SHARES proportions, shuffled (the same every run)."""
        lines = []
        for n in range(MIX_SHARES["list"] * 2):
            lines.append(("GET", f"/api/cars?sort={MIX_SORTS[n % len(MIX_SORTS)]}&limit=20", "", ""))
        for n in range(MIX_SHARES["filtered"] * 2):
            brand, (low, high) = BRANDS[n % len(BRANDS)], PRICE_RANGES[n % len(PRICE_RANGES)]
            lines.append(("GET", f"/api/cars?brand={brand}&minPrice={low}&maxPrice={high}&limit=20", "", ""))
        for n in range(MIX_SHARES["search"] * 2):
            lines.append(("GET", f"/api/cars?q={quote(SEARCH_TERMS[n % len(SEARCH_TERMS)])}&limit=20", "", ""))
        lines += [("GET", f"/api/cars/{car_id}", "", "") for car_id in self.sample_cars(MIX_SHARES["detail"] * 2)]
        lines += [("GET", f"/api/reviews/car/{car_id}", "", "")
                  for car_id in self.reviewed_cars(MIX_SHARES["reviews"] * 2)]
        random.Random(SEED).shuffle(lines)
        return lines

    def conditional_requests(self) -> dict[str, dict]:
        """Each validator answered 304 (median of 5 single requests, ms), the whole list's too, and
        a detail's old validator after an UPDATE of its car typed as psql would (200 expected)."""
        base = self.server.base_url
        car_id = self.sample_cars(1)[0]
        found = {}
        for name, path in (("detail", f"/api/cars/{car_id}"), ("first page", "/api/cars?limit=20"),
                           ("whole list", "/api/cars")):
            status, headers, _ = http(base + path, headers={"Accept-Encoding": "gzip"}, timeout=600)
            etag = headers.get("etag")
            times, statuses = [], []
            for _ in range(5):
                started = time.perf_counter()
                status, _, body = http(base + path, headers={"If-None-Match": etag or "", "Accept-Encoding": "gzip"})
                times.append((time.perf_counter() - started) * 1000)
                statuses.append(status)
            found[name] = {"etag": etag, "statuses": statuses, "median_ms": statistics.median(times)}
            log(f"  304 {name:10} {statuses} median {statistics.median(times):8.2f} ms  ETag {etag}")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("UPDATE cars SET price = price WHERE id = %s", (car_id,))
        status, _, _ = http(base + f"/api/cars/{car_id}", headers={"If-None-Match": found["detail"]["etag"]})
        found["after UPDATE"] = {"status": status}
        log(f"  after UPDATE cars … in psql, the old validator of the detail: {status}")
        return found

    def measure_checkout(self, tokens: list[str]) -> None:
        options = self.options
        pool_size = int(800 * (options.seconds + options.warmup)) + 200
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            seller_id = run_query(conn, "bench_user_id", {"email": demo_email("seller", 1)})[0]["id"]
            ids = [row["id"] for row in run_query(conn, "bench_insert_pool_cars", {"seller_id": seller_id,
                                                                                    "n": pool_size})]
        try:
            tokens_file = self.work_dir / f"{self.label}-tokens.txt"
            tokens_file.write_text("\n".join(tokens) + "\n")
            warm_ids, measured_ids = ids[: pool_size // 4], ids[pool_size // 4:]
            env = {"BENCH_TOKENS": str(tokens_file), "BENCH_THREADS": str(options.threads)}
            if options.warmup:
                warm_file = self.work_dir / f"{self.label}-pool-warm.txt"
                warm_file.write_text("\n".join(map(str, warm_ids)) + "\n")
                run_wrk(self.server.base_url, "checkout.lua", {**env, "BENCH_CARS": str(warm_file)},
                        options.warmup, options.connections, options.threads)
            cars_file = self.work_dir / f"{self.label}-pool.txt"
            cars_file.write_text("\n".join(map(str, measured_ids)) + "\n")
            result = run_wrk(self.server.base_url, "checkout.lua", {**env, "BENCH_CARS": str(cars_file)},
                             options.seconds, options.connections, options.threads)
            measurement = to_measurement("checkout", result, None)
            seconds = result["duration_us"] / 1e6
            measurement.extra["flows_per_s"] = result["confirmations"] / seconds
            self.results["checkout"] = measurement
            log(f"  checkout     {measurement.requests_per_s:9.1f} req/s  p50 {measurement.p50_ms:8.2f} ms  "
                f"p99 {measurement.p99_ms:8.2f} ms  {measurement.extra['flows_per_s']:.1f} flows/s  "
                f"errors {measurement.errors}  pool exhausted {result['pool_exhausted']}")
        finally:
            self.delete_pool(ids)

    def delete_pool(self, ids: list[int]) -> None:
        """Remove the pool cars and their orders (requests still in flight when wrk stopped may add orders)."""
        for attempt in range(10):
            time.sleep(1)
            try:
                with psycopg.connect(self.url) as conn, conn.transaction():
                    run_query(conn, "bench_delete_pool_orders", {"ids": ids})
                    run_query(conn, "bench_delete_pool_cars", {"ids": ids})
                return
            except psycopg.errors.ForeignKeyViolation:
                if attempt == 9:
                    raise

    def measure_full_list_once(self) -> None:
        """The whole list at a size where one answer takes many seconds: one plain and one gzip
        request in turn, timed, with the workers' resident memory sampled every 50 ms."""
        before = self.server.worker_rss_kb()
        peak = dict(before)
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                for pid, kb in self.server.worker_rss_kb().items():
                    peak[pid] = max(peak.get(pid, 0), kb)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            started = time.monotonic()
            status, headers, plain = http(self.server.base_url + "/api/cars", timeout=600)
            plain_s = time.monotonic() - started
            started = time.monotonic()
            status_gz, headers_gz, compressed = http(self.server.base_url + "/api/cars",
                                                     headers={"Accept-Encoding": "gzip"}, timeout=600)
            gzip_s = time.monotonic() - started
            time.sleep(2)
        finally:
            sampling.set()
            sampler.join()
        after = self.server.worker_rss_kb()
        try:
            cars = len(json.loads(plain))
        except ValueError:
            cars = None
        self.notes["full_list_once"] = {
            "status": status, "gzip_status": status_gz, "seconds": plain_s, "gzip_seconds": gzip_s,
            "bytes": len(plain), "gzip_bytes": len(compressed),
            "gzip_served": headers_gz.get("content-encoding", "").lower() == "gzip",
            "cars": cars, "total_count": headers.get("x-total-count"),
            "rss_before_kb": before, "rss_peak_kb": peak, "rss_after_kb": after,
        }
        growth = max((peak.get(pid, 0) - before.get(pid, peak.get(pid, 0)) for pid in peak), default=0)
        log(f"  full_list    {status} in {plain_s:.1f} s, {len(plain):,} B; gzip {status_gz} in {gzip_s:.1f} s, "
            f"{len(compressed):,} B; largest worker growth {growth / 1024:+.0f} MB")

    def measure_full_list(self) -> None:
        status, headers, plain = http(self.server.base_url + "/api/cars")
        status_gz, headers_gz, compressed = http(self.server.base_url + "/api/cars",
                                                 headers={"Accept-Encoding": "gzip"})
        gzip_served = headers_gz.get("content-encoding", "").lower() == "gzip"
        self.notes["full_list_gzip_served"] = gzip_served
        self.notes["full_list_gzip_bytes"] = len(compressed) if gzip_served else None
        self.notes["full_list_gzip_would_be"] = len(gzip.compress(plain, 6))
        self.notes["full_list_cars"] = len(json.loads(plain))
        self.notes["full_list_old_format_bytes"] = old_server_body_size(plain)
        before = self.server.worker_rss_kb()
        # one answer takes about a second: give wrk time for more than a handful of them
        self.measure("full_list", [("GET", "/api/cars", "", "")], seconds=max(self.options.seconds, 10))
        after = self.server.worker_rss_kb()
        growth = {pid: after[pid] - before.get(pid, after[pid]) for pid in after}
        self.notes["rss_before_kb"] = sum(before.values())
        self.notes["rss_after_kb"] = sum(after.values())
        self.notes["rss_growth_kb"] = sum(growth.values())
        self.notes["rss_workers"] = len(after)
        if gzip_served:
            gz_file = write_requests(self.work_dir / f"{self.label}-full-gzip.tsv", [("GET", "/api/cars", "", "")])
            result = run_wrk(self.server.base_url, "requests.lua", {"BENCH_REQUESTS": str(gz_file), "BENCH_GZIP": "1"},
                             max(self.options.seconds, 10), self.options.connections, self.options.threads)
            self.results["full_list_gzip"] = to_measurement("full_list_gzip", result, len(compressed))


def old_server_body_size(body: bytes) -> int:
    """Size of the same cars as the old server sent them: price as a "12345.00" string (Sequelize DECIMAL)."""
    cars = json.loads(body)
    for car in cars:
        if car.get("price") is not None:
            car["price"] = f"{float(car['price']):.2f}"
    return len(json.dumps(cars, separators=(",", ":"), ensure_ascii=False).encode())


# --- statement counts (in process, on the bench database) ---------------------------

PERIODIC_QUERIES = {"get_settings"}  # read at most once per CACHE_SECONDS per process, not per request


def statement_counts(url: str) -> dict[str, int]:
    """SQL statements per request for the full and the paged car list, counted by wrapping
    psycopg's Cursor.execute in this process (the pool's empty liveness check and the
    periodic settings read are not counted)."""
    from cms import create_app
    from cms.db import QUERIES

    by_text = {item.sql: item.name for item in QUERIES.values()}
    counted: list[str] = []
    original = psycopg.Cursor.execute

    def counting(self, query, params=None, **kwargs):
        text = query if isinstance(query, str) else str(query)
        if text.strip() and by_text.get(text) not in PERIODIC_QUERIES:
            counted.append(by_text.get(text, text[:60]))
        return original(self, query, params, **kwargs)

    app = create_app({"database_url": url, "jwt_secret": secrets.token_urlsafe(48), "pool_min_size": 1,
                      "public_base_url": "http://127.0.0.1",
                      "pool_max_size": 2, "telegram_enabled": False, "log_level": "WARNING"})
    client = app.test_client()
    targets = {"GET /api/cars": "/api/cars", "GET /api/cars?limit=20": "/api/cars?limit=20"}
    counts = {}
    try:
        psycopg.Cursor.execute = counting
        for label, target in targets.items():
            counted.clear()
            response = client.get(target)
            assert response.status_code == 200, response.status_code
            response.get_data()  # a streamed list reads its batches while the body is sent
            response.close()
            counts[label] = len(counted)
            log(f"  {label}: {counted}")
    finally:
        psycopg.Cursor.execute = original
        app.extensions["cms.pool"].close()
    return counts


# --- generic plans -------------------------------------------------------------------

GENERIC_PLAN_SORTS = ("newest", "oldest", "price_asc", "price_desc", "year_asc", "year_desc")


def generic_plans(url: str, cars: int) -> list[dict]:
    """Each sort order's page query of the public list (sql/queries/car_list.sql, no filter) and
    the capped count under plan_cache_mode=force_generic_plan (what a prepared statement gets
    after five runs) next to their custom plans, for the first page and a page 99 % deep
    (cursor), EXPLAIN ANALYZE at this size: execution and planning ms, cars rows read, executed
    Seq Scans."""
    from cms.db import plans
    from cms.repositories import cars as cars_repo

    tables = frozenset({"cars", "car_images"})
    conditions = (cars_repo.LISTED,)
    found = []
    with cms_db.connect(url, statement_timeout_ms=600_000) as conn:
        count = cars_repo.list_statement(cars_repo.COUNT_NEWEST_FIRST, conditions)
        for sort in GENERIC_PLAN_SORTS:
            row = run_query(conn, "bench_position", {"sort": sort, "depth": cars * 99 // 100 - 1})[0]
            page = cars_repo.list_statement(cars_repo.LIST_PAGES[sort], conditions)
            depths = [("first page", None), ("99 % deep (cursor)", (row["sort_key"], row["id"]))]
            if sort == GENERIC_PLAN_SORTS[0]:
                depths.append((f"count (up to {cars_repo.COUNT_CAP + 1:,})", None))  # one count for every sort
            for depth, after in depths:
                params = dict.fromkeys(cars_repo.LIST_FILTERS)
                params.update(dict.fromkeys(set(cars_repo.SORT_KEY_PARAMS.values())), after_id=None)
                params.update(limit=20, offset=0, count_limit=cars_repo.COUNT_CAP + 1)
                if after is not None:
                    params[cars_repo.SORT_KEY_PARAMS[sort]], params["after_id"] = after
                result = {"sort": sort, "depth": depth}
                for mode in ("custom", "generic"):
                    document = plans.explain(conn, count if depth.startswith("count") else page, params,
                                             generic=mode == "generic")
                    result[mode] = {
                        "ms": document["Execution Time"], "planning_ms": document["Planning Time"],
                        "cars_rows": plans.rows_read(document["Plan"], tables).get("cars", 0),
                        "seq_scans": plans.executed_sequential_scans(document["Plan"], tables),
                    }
                found.append(result)
                log(f"  {sort:10} {depth:20} custom {result['custom']['ms']:8.2f} ms "
                    f"{result['custom']['cars_rows']:>7,} rows; generic {result['generic']['ms']:8.2f} ms "
                    f"{result['generic']['cars_rows']:>7,} rows {result['generic']['seq_scans'] or ''}")
    return found


# --- pgbench ------------------------------------------------------------------------

def pgbench_ceiling(seconds: float, connections: int, threads: int) -> float:
    """pgbench -S (select-only) transactions per second on a pgbench-initialised scratch database."""
    url = database_url(PGBENCH_DB)
    comment = database_comment(PGBENCH_DB)
    marker = f"pgbench scale {PGBENCH_SCALE}"
    if comment != marker:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            if comment is not None:
                conn.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(PGBENCH_DB)))
            conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(PGBENCH_DB)))
        subprocess.run(["pgbench", "-i", "-q", "-s", str(PGBENCH_SCALE), url], check=True, capture_output=True)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(
                pgsql.Identifier(PGBENCH_DB), pgsql.Literal(marker)))
    result = subprocess.run(
        ["pgbench", "-S", "-n", f"-c{connections}", f"-j{threads}", f"-T{max(1, round(seconds))}", url],
        check=True, capture_output=True, text=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if not match:
        raise RuntimeError(f"cannot read pgbench output:\n{result.stdout}")
    return float(match.group(1))


# --- machine and login facts --------------------------------------------------------

def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    with psycopg.connect(ADMIN_URL, autocommit=True, row_factory=dict_row) as conn:
        server = run_query(conn, "bench_server_facts")[0]
    wrk_version = subprocess.run([ensure_wrk(), "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": f"{server['version']} (shared_buffers {server['shared_buffers']}, "
                      f"max_connections {server['max_connections']}), same host",
        "wrk": wrk_version.strip() or "wrk",
        "load_average_at_start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def bcrypt_facts(url: str) -> dict[str, object]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        password_hash = run_query(conn, "bench_password_hash", {"email": demo_email("user", 1)})[0]["password_hash"]
    cost = int(password_hash.split("$")[2])
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        bcrypt.checkpw(DEMO_PASSWORD.encode(), password_hash.encode())
        timings.append(time.perf_counter() - started)
    per_check = statistics.median(timings)
    return {"cost": cost, "check_ms": per_check * 1000, "ceiling_per_s": (os.cpu_count() or 1) / per_check}


# --- scale-out: PgBouncer and a read replica ---------------------------------------

def scale_out_runs(label: str, direct: SizeRun, options: Options, work_dir: Path,
                   topologies: list[str]) -> dict[str, SizeRun]:
    """The read routes again behind PgBouncer (transaction pooling) and with a streaming replica.

    PgBouncer sits in front of the same database as the direct run. A replica cannot be added to the
    shared server, so the replica line runs on a private primary + replica pair (tests/support/replica.py)
    filled with the same demo data, next to a line on that private primary alone."""
    from support.pgbouncer import PgBouncer, find_pgbouncer
    from support.replica import StreamingPair, commits

    only = (direct.only or set(SCALE_OUT_ROUTES)) & set(SCALE_OUT_ROUTES)
    runs: dict[str, SizeRun] = {}
    if not only:
        return runs

    def measure(name: str, db_url: str, server_url: str, extra_env: dict) -> SizeRun:
        log(f"{label} {name}: starting the server")
        with running_server(server_url, options.workers, options.server_threads, options.pool_max, work_dir,
                            extra_env) as server:
            run = SizeRun(f"{label}-{name}", db_url, server, options, work_dir)
            run.only = only
            run.run_reads()
        return run

    if "pgbouncer" in topologies:
        binary = find_pgbouncer()
        if not binary:
            log("pgbouncer is not installed (apt-get install pgbouncer): no PgBouncer line")
        else:
            settings = load_settings().with_overrides(database_url=direct.url, db_pool_mode="transaction")
            with psycopg.connect(direct.url, autocommit=True) as conn:
                for statement in cms_db.role_settings_statements(settings, conn):
                    conn.execute(statement)  # what docs/scaling.md asks of an operator
            bouncer = PgBouncer(binary=binary, pool_size=PGBOUNCER_POOL_SIZE).start()
            try:
                runs["pgbouncer"] = measure("pgbouncer", direct.url, bouncer.url(direct.url.rsplit("/", 1)[1]),
                                            {"DB_POOL_MODE": "transaction"})
            finally:
                bouncer.stop()
    if {"primary", "replica"} & set(topologies):
        log(f"{label}: building a private primary + streaming replica with {SIZES[label]:,} demo cars ...")
        pair = StreamingPair()
        try:
            pair.build()
            cms_db.run_dbmate(pair.primary.url(), "up")
            generate(pair.primary.url(), DemoPlan(cars=SIZES[label], seed=SEED, jobs=max(1, os.cpu_count() or 2)))
            pair.wait_for_replay(timeout=300)
            if "primary" in topologies:
                runs["primary"] = measure("primary", pair.primary.url(), pair.primary.url(), {})
            if "replica" in topologies:
                before = commits(pair.replica)
                runs["replica"] = measure("replica", pair.primary.url(), pair.primary.url(),
                                          {"DATABASE_REPLICA_URL": pair.replica.url()})
                runs["replica"].notes["replica_commits"] = commits(pair.replica) - before
        finally:
            pair.remove()
    return runs


def scale_out_table(direct: SizeRun, others: dict[str, SizeRun]) -> list[str]:
    names = ["direct", *others]
    runs = {"direct": direct, **others}
    titles = {"direct": "direct", "pgbouncer": "PgBouncer", "primary": "private primary",
              "replica": "primary + replica"}
    lines = [f"- {titles[name]}: {TOPOLOGIES[name]}" for name in names]
    if "replica" in others:
        lines.append(f"- transactions the replica ran during its line: {others['replica'].notes['replica_commits']:,} "
                     "(pg_stat_database.xact_commit)")
    lines += ["", "| Route | " + " | ".join(f"{titles[n]} req/s | p50 ms" for n in names) + " |",
              "|---|" + "---:|---:|" * len(names)]
    for route, title, _ in ROUTES:
        if route not in SCALE_OUT_ROUTES or not any(route in runs[n].results for n in names[1:]):
            continue
        cells = []
        for name in names:
            m = runs[name].results.get(route)
            cells.append(f"{m.requests_per_s:,.0f} | {m.p50_ms:,.2f}" + (f" ({m.errors} errors)" if m.errors else "")
                         if m else "– | –")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


# --- report -------------------------------------------------------------------------

def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "–"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f} MB"
    if value >= 10_000:
        return f"{value / 1000:.1f} kB"
    return f"{value} B"


def size_table(run: SizeRun) -> list[str]:
    lines = [
        "| Route | req/s | p50 ms | p99 ms | Response body | Errors / non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for route, title, _ in ROUTES:
        m = run.results.get(route)
        if m is None:
            continue
        rate = f"{m.requests_per_s:,.1f}"
        if route == "checkout":
            rate += f" ({m.extra['flows_per_s']:,.1f} flows/s)"
        p50, p99 = f"{m.p50_ms:,.2f}", f"{m.p99_ms:,.2f}"
        if m.requests == 0:
            p50 = p99 = f"> {m.extra['duration_us'] / 1e3:,.0f} (none completed)"
        lines.append(f"| {title} | {rate} | {p50} | {p99} | {fmt_bytes(m.body_bytes)} | "
                     f"{m.errors} of {m.requests:,} |")
    gz = run.results.get("full_list_gzip")
    if gz:
        lines.append(f"| GET /api/cars (no limit, Accept-Encoding: gzip) | {gz.requests_per_s:,.1f} | "
                     f"{gz.p50_ms:,.2f} | {gz.p99_ms:,.2f} | {fmt_bytes(gz.body_bytes)} | "
                     f"{gz.errors} of {gz.requests:,} |")
    return lines


def browse_lines(run: SizeRun) -> list[str]:
    """Issue 21's figures: each list page as a share of the floor app, the browsing mix, relevance
    next to the default sort for q=electric, and the conditional requests."""
    results, lines = run.results, []
    floor = results.get("floor")
    if floor and floor.requests_per_s:
        lines += ["| Page (`limit=20`) | req/s | p50 ms | share of the floor (target ≥ 50 %) |", "|---|---:|---:|---:|"]
        lines.append(f"| floor app | {floor.requests_per_s:,.1f} | {floor.p50_ms:,.2f} | 100 % |")
        for route in BROWSE_PAGES:
            m = results.get(route)
            if m:
                title = next(title for name, title, _ in ROUTES if name == route)
                share = 100 * m.requests_per_s / floor.requests_per_s
                lines.append(f"| {title} | {m.requests_per_s:,.1f} | {m.p50_ms:,.2f} | {share:.0f} % |")
        lines.append("")
    for route in ("mix_100", "mix_1000", "floor_1000"):
        m = results.get(route)
        if m:
            share = f", {100 * m.requests_per_s / floor.requests_per_s:.0f} % of the floor at 16" if floor else ""
            lines.append(f"- {next(t for n, t, _ in ROUTES if n == route)}: {m.requests_per_s:,.1f} req/s{share}, "
                         f"p50 {m.p50_ms:,.1f} ms, p99 {m.p99_ms:,.1f} ms, errors {m.errors} of {m.requests:,}")
    default, relevance = results.get("electric"), results.get("electric_relevance")
    if default and relevance and default.p50_ms:
        lines.append(f"- q=electric: relevance p50 {relevance.p50_ms:,.2f} ms, newest first {default.p50_ms:,.2f} ms: "
                     f"{relevance.p50_ms / default.p50_ms:.2f} × (target ≤ 1.5)")
    conditional = run.notes.get("conditional")
    if conditional:
        for name, found in conditional.items():
            if "median_ms" in found:
                lines.append(f"- If-None-Match, {name}: {found['statuses']}, median {found['median_ms']:,.2f} ms")
        lines.append(f"- after `UPDATE cars SET price = price WHERE id = …` in psql, the detail's old validator: "
                     f"{conditional['after UPDATE']['status']} (200 expected)")
    return lines


def p50_ratio(small: Measurement, large: Measurement) -> float:
    """p50 at the large size over p50 at the small one; infinite when no request completed."""
    if not large.requests or not small.requests or not small.p50_ms:
        return float("inf")
    return large.p50_ms / small.p50_ms


def build_report(runs: dict[str, SizeRun], facts: dict, options: Options, pgbench_tps: float | None,
                 bcrypt_info: dict, counts: dict[str, int], generation: dict[str, float | None],
                 quick: bool, scale_out: dict[str, SizeRun] | None = None) -> str:
    out: list[str] = []
    today = dt.date.today().isoformat()
    out.append(f"# Benchmark {today}{' (quick smoke run)' if quick else ''}")
    out.append("")
    out.append("Produced by `make bench` (bench/run.py); how to read it: bench/README.md.")
    out.append("")
    out.append("## Set-up")
    out.append("")
    for key, value in facts.items():
        out.append(f"- {key.replace('_', ' ')}: {value}")
    out.append(f"- server: granian (cms/server.py), {options.workers} workers x {options.server_threads} threads, "
               f"pool {options.server_threads}..{options.pool_max} connections per worker, APP_ENV=production, "
               "request log at INFO to a file")
    out.append(f"- load: wrk -t{options.threads} -c{options.connections}, {options.warmup:g} s warm-up then "
               f"{options.seconds:g} s per route, keep-alive connections")
    for label, seconds in generation.items():
        if seconds is not None:
            out.append(f"- demo data for {label}: generated in {seconds:.0f} s (cms demo-data, then VACUUM ANALYZE)")
        else:
            out.append(f"- demo data for {label}: reused from an earlier run")
    out.append("")
    for label, run in runs.items():
        out.append(f"## {SIZES[label]:,} cars")
        out.append("")
        out.extend(size_table(run))
        out.append("")
    for label, run in runs.items():
        lines = browse_lines(run)
        if lines:
            out.append(f"## Browse (issue 21), {SIZES[label]:,} cars")
            out.append("")
            out.extend(lines)
            out.append("")
    if "10k" in runs and "1m" in runs:
        out.append("## p50 at 1M cars / p50 at 10k cars")
        out.append("")
        out.append("| Route | p50 10k ms | p50 1M ms | ratio | target ≤ 1.5 |")
        out.append("|---|---:|---:|---:|---|")
        for route, title, paged in ROUTES:
            small, large = runs["10k"].results.get(route), runs["1m"].results.get(route)
            if not small or not large:
                continue
            ratio = p50_ratio(small, large)
            verdict = ("holds" if ratio <= 1.5 else "**fails**") if paged else "(not a target)"
            large_p50 = f"{large.p50_ms:,.2f}" if large.requests else "none completed"
            shown = f"{ratio:.2f}" if ratio != float("inf") else "∞"
            out.append(f"| {title} | {small.p50_ms:,.2f} | {large_p50} | {shown} | {verdict} |")
        out.append("")
    if scale_out and "10k" in runs:
        out.append("## Scale-out: the read routes through PgBouncer and with a read replica (10,000 cars)")
        out.append("")
        out.extend(scale_out_table(runs["10k"], scale_out))
        out.append("")
    out.append("## Targets")
    out.append("")
    out.extend(target_lines(runs, pgbench_tps, bcrypt_info, counts, options))
    out.append("")
    return "\n".join(out)


def target_lines(runs: dict[str, SizeRun], pgbench_tps: float | None, bcrypt_info: dict,
                 counts: dict[str, int], options: Options) -> list[str]:
    lines = []
    if "10k" in runs and "1m" in runs:
        failing = []
        for route, title, paged in ROUTES:
            small, large = runs["10k"].results.get(route), runs["1m"].results.get(route)
            if paged and small and large and p50_ratio(small, large) > 1.5:
                ratio = p50_ratio(small, large)
                failing.append(f"{title} ({ratio:.1f}x)" if ratio != float("inf") else f"{title} (none completed)")
        lines.append("- p50 at 1M ≤ 1.5 × p50 at 10k for every paged, filtered, searched and detail route: "
                     + ("**holds**" if not failing else "**fails** for " + "; ".join(failing)))
    if pgbench_tps:
        lines.append(f"- pgbench -S -c{options.connections} -j{options.threads} (ceiling): {pgbench_tps:,.0f} tps")
        for label, run in runs.items():
            detail = run.results.get("detail")
            if detail:
                share = 100 * detail.requests_per_s / pgbench_tps
                lines.append(f"- GET /api/cars/:id at {SIZES[label]:,} cars: {detail.requests_per_s:,.0f} req/s = "
                             f"{share:.2f} % of pgbench -S (target ≥ 3.5 %): "
                             + ("**holds**" if share >= 3.5 else "**fails**"))
    small = runs.get("10k")
    if small and "full_list" in small.results:
        full = small.results["full_list"]
        notes = small.notes
        lines.append(f"- GET /api/cars without limit at 10k ({notes['full_list_cars']:,} cars):")
        one = counts.get("GET /api/cars")
        # One batch per 1,000 cars, and the batch that comes back short (possibly empty) ends the list.
        batches = notes["full_list_cars"] // 1000 + 1
        lines.append(f"  - SQL statements per request: {one} (snapshot, count, then one per 1,000 cars until a "
                     f"short batch: {2 + batches} expected): " + ("**holds**" if one == 2 + batches else "**fails**"))
        lines.append(f"  - {full.requests_per_s:.1f} req/s (target ≥ 10): "
                     + ("**holds**" if full.requests_per_s >= 10 else "**fails**"))
        old = notes["full_list_old_format_bytes"]
        lines.append(f"  - body {fmt_bytes(full.body_bytes)}; the same cars in the old server's format "
                     f"(price as a \"0.00\" string): {fmt_bytes(old)}; the old server's measured body: 5.2 MB "
                     "(target: no larger than the old server's for the same cars): "
                     + ("**holds**" if full.body_bytes <= old else "**fails**")
                     + ("" if full.body_bytes <= 5_200_000 else " (larger than 5.2 MB because the demo "
                        "descriptions are longer than those the old server was measured with)"))
        if notes["full_list_gzip_served"]:
            lines.append(f"  - gzip when accepted: **holds**, {fmt_bytes(notes['full_list_gzip_bytes'])} compressed")
        else:
            lines.append("  - gzip when accepted: **fails**: the service answers Accept-Encoding: gzip uncompressed "
                         f"(gzip -6 would make it {fmt_bytes(notes['full_list_gzip_would_be'])})")
        growth_mb = notes["rss_growth_kb"] / 1024
        lines.append(f"  - worker RSS growth while serving it: {growth_mb:+.1f} MB over {notes['rss_workers']} "
                     f"workers ({notes['rss_before_kb'] / 1024:.0f} → {notes['rss_after_kb'] / 1024:.0f} MB) "
                     "(target < 100 MB): " + ("**holds**" if growth_mb < 100 else "**fails**"))
    lines.extend(issue14_lines(runs, pgbench_tps))
    if counts:
        lines.append("- statements per request (in process, same database): "
                     + ", ".join(f"{route}: {n}" for route, n in counts.items()))
    for label, run in runs.items():
        login = run.results.get("login")
        if login:
            share = 100 * login.requests_per_s / bcrypt_info["ceiling_per_s"]
            lines.append(f"- login at {SIZES[label]:,} cars: {login.requests_per_s:.1f} logins/s; bcrypt cost "
                         f"{bcrypt_info['cost']}, {bcrypt_info['check_ms']:.0f} ms per check, so "
                         f"{os.cpu_count()} cores allow {bcrypt_info['ceiling_per_s']:.1f} checks/s: login runs at "
                         f"{share:.0f} % of the bcrypt ceiling (old server: 11 logins/s)")
    return lines


def issue14_lines(runs: dict[str, SizeRun], pgbench_tps: float | None) -> list[str]:
    """The targets of issue 14 at 1M cars, each a ratio measured in this run."""
    run = runs.get("1m")
    if run is None:
        return []
    lines, results = [], run.results

    def ratio_line(text: str, route: str, base: str, target: float) -> None:
        if route in results and base in results and results[base].p50_ms:
            ratio = results[route].p50_ms / results[base].p50_ms
            lines.append(f"- {text}: p50 {results[route].p50_ms:,.2f} ms vs {results[base].p50_ms:,.2f} ms = "
                         f"{ratio:.2f}x (target ≤ {target}): " + ("**holds**" if ratio <= target else "**fails**"))

    ratio_line("cursor page 990,000 deep vs first page (newest first)", "deep_cursor", "newest", 1.5)
    ratio_line("cursor page 990,000 deep, sort=price_asc, vs first page (newest first)", "deep_cursor_price",
               "newest", 1.5)
    ratio_line("sort=relevance vs the default sort, same q terms", "relevance", "search", 1.5)
    once = run.notes.get("full_list_once")
    if once:
        before, peak, after = once["rss_before_kb"], once["rss_peak_kb"], once["rss_after_kb"]
        growth = max((peak[pid] - before.get(pid, peak[pid]) for pid in peak), default=0) / 1024
        kept = max((after.get(pid, 0) - before.get(pid, 0) for pid in before), default=0) / 1024
        lines.append(f"- GET /api/cars without limit at 1M: {once['status']} in {once['seconds']:.1f} s, "
                     f"{fmt_bytes(once['bytes'])} ({once['cars'] or 'not'} cars parsed, X-Total-Count "
                     f"{once['total_count']}); gzip {once['gzip_status']} in {once['gzip_seconds']:.1f} s, "
                     f"{fmt_bytes(once['gzip_bytes'])}")
        lines.append("  - worker RSS MB before / peak / after: "
                     + "; ".join(f"{before[pid] // 1024} / {peak.get(pid, 0) // 1024} / {after.get(pid, 0) // 1024}"
                                 for pid in before)
                     + f"; largest growth {growth:+.0f} MB, largest kept {kept:+.0f} MB (target < 200 MB): "
                     + ("**holds**" if once["status"] == 200 and growth < 200 else "**fails**"))
    detail = results.get("detail")
    if detail and pgbench_tps:
        share = 100 * detail.requests_per_s / pgbench_tps
        lines.append(f"- GET /api/cars/:id at 1M: {share:.2f} % of pgbench -S (target ≥ 10 %): "
                     + ("**holds**" if share >= 10 else "**fails**"))
    through_flask = results.get("detail_flask")
    if through_flask and pgbench_tps:
        lines.append(f"- GET /api/cars/:id at 1M through Flask (CAR_DETAIL_LANE=false, no lane beneath it): "
                     f"{through_flask.requests_per_s:,.0f} req/s = "
                     f"{100 * through_flask.requests_per_s / pgbench_tps:.2f} % of pgbench -S")
    plans = run.notes.get("generic_plans")
    if plans:
        lines.append("- the public list's page queries and its count under plan_cache_mode=force_generic_plan at 1M "
                     "(EXPLAIN ANALYZE; custom plan for comparison; planning ms in brackets):")
        lines.append("")
        lines.append("  | sort | page | custom ms | custom cars rows | generic ms | generic cars rows | "
                     "generic Seq Scan |")
        lines.append("  |---|---|---:|---:|---:|---:|---|")
        for item in plans:
            custom, generic = item["custom"], item["generic"]
            lines.append(f"  | {item['sort']} | {item['depth']} | {custom['ms']:,.2f} ({custom['planning_ms']:.2f}) | "
                         f"{custom['cars_rows']:,} | {generic['ms']:,.2f} ({generic['planning_ms']:.2f}) | "
                         f"{generic['cars_rows']:,} | "
                         f"{', '.join(generic['seq_scans']) or 'none'} |")
        lines.append("")
    return lines


# --- main ---------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 10k only, 3 s per route, 1 s warm-up")
    parser.add_argument("--sizes", default=None, help="comma-separated sizes to run (10k,1m)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per route (default 15)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds per route (default 3)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "3")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "4")))
    parser.add_argument("--pool-max", type=int, default=None, help="DB_POOL_MAX per worker (default: threads + 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (and pgbench -c)")
    parser.add_argument("--output", default=None, help="report path (default bench/results/<date>.md)")
    parser.add_argument("--routes", default="", help="only these routes, comma-separated: "
                        + ",".join(route for route, _, _ in ROUTES))
    parser.add_argument("--topologies", default=",".join(TOPOLOGIES),
                        help="at 10k, also measure the read routes through these (docs/scaling.md): "
                        + ",".join(TOPOLOGIES))
    args = parser.parse_args()
    topologies = [name for name in args.topologies.split(",") if name]
    if set(topologies) - set(TOPOLOGIES):
        parser.error(f"unknown topologies {sorted(set(topologies) - set(TOPOLOGIES))}; choose from {list(TOPOLOGIES)}")

    sizes = (args.sizes.split(",") if args.sizes else (["10k"] if args.quick else ["10k", "1m"]))
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {list(SIZES)}")
    options = Options(
        seconds=args.seconds or (3.0 if args.quick else 15.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0),
        connections=args.connections,
        threads=2,
        workers=args.workers,
        server_threads=args.threads,
        pool_max=args.pool_max or args.threads + 2,
    )
    ensure_wrk()
    facts = machine_facts()
    log(f"machine: {facts['cpu']}, {facts['memory']}; PostgreSQL {facts['postgresql']}")
    runs: dict[str, SizeRun] = {}
    scale_out: dict[str, SizeRun] = {}
    generation: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    bcrypt_info: dict = {}
    work_dir = Path(tempfile.mkdtemp(prefix="cms-bench-"))
    started = time.monotonic()
    for label in sizes:
        url, seconds = ensure_bench_database(label, SIZES[label])
        generation[label] = seconds
        if label == "10k":
            counts = statement_counts(url)
            log(f"statements per request: {counts}")
        if not bcrypt_info:
            bcrypt_info = bcrypt_facts(url)
        log(f"{label}: starting granian ({options.workers} workers x {options.server_threads} threads)")
        with running_server(url, options.workers, options.server_threads, options.pool_max, work_dir) as server:
            run = SizeRun(label, url, server, options, work_dir)
            run.only = {route for route in args.routes.split(",") if route}
            run.run_all(full_list=(label == "10k"))
            runs[label] = run
        if label == "10k" and set(topologies) - {"direct"}:
            scale_out = scale_out_runs(label, run, options, work_dir, topologies)
        if label == "1m" and (not run.only or "generic_plans" in run.only):
            log("1m: generic plans of the list queries (EXPLAIN ANALYZE) ...")
            run.notes["generic_plans"] = generic_plans(url, SIZES[label])
    log("pgbench -S (ceiling) ...")
    pgbench_tps = pgbench_ceiling(options.seconds, options.connections, options.threads)
    log(f"pgbench -S: {pgbench_tps:,.0f} tps")
    facts["load_average_at_end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    facts["bench_duration"] = f"{(time.monotonic() - started) / 60:.1f} min"
    report = build_report(runs, facts, options, pgbench_tps, bcrypt_info, counts, generation, args.quick, scale_out)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    default_name = f"{dt.date.today().isoformat()}{'-quick' if args.quick else ''}.md"
    output = Path(args.output) if args.output else RESULTS_DIR / default_name
    output.write_text(report)
    raw = {
        "facts": facts, "options": options.__dict__, "pgbench_tps": pgbench_tps, "bcrypt": bcrypt_info,
        "statement_counts": counts, "generation_seconds": generation,
        "sizes": {label: {"results": {route: m.__dict__ for route, m in run.results.items()}, "notes": run.notes}
                  for label, run in runs.items()},
        "scale_out_10k": {name: {"results": {route: m.__dict__ for route, m in run.results.items()},
                                 "notes": run.notes} for name, run in scale_out.items()},
    }
    output.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str) + "\n")
    print()
    print(report)
    log(f"report written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
