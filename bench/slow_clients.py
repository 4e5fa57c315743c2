#!/usr/bin/env python3
"""Slow and idle clients against each way of serving the app (issues 13 and 20), and throughput.

For each server it holds N half-open connections (each sent `GET /ping HTTP/1.1\\r\\nHost: x\\r\\n`
and nothing more) plus N connections that sent nothing at all, and meanwhile asks /ping 10 times
(5 s timeout each): the latencies, or `timeout`, are the figures. Then, with no slow clients,
`wrk -t2 -c16` on GET /api/cars/:id and GET /api/cars?limit=20 for a few seconds each.

Issue 20 (the `granian` server only, `--slow`, default 16): slow bodies and clients that never read.
It opens, in turn, a slow body (`POST /api/auth/login` with `Content-Length: 100` and one byte `{`;
every other one chunked, one 1-byte chunk) and a never-reading client (`GET /api/cars`,
`Accept-Encoding: identity`, SO_RCVBUF 4096, never reads), N of each, and holds them for at most
`--observe` seconds (60). Meanwhile:
- /ping is asked `--pings` times (20), one started every 0.4 s from 1 s after the last connection,
  5 s timeout each: p50, p90, max (a timeout counts as the slowest), and how many timed out;
- every 0.25 s the server's end of each connection is looked up in /proc/net/tcp: the seconds from
  a connection's connect until the server closed it (its end leaves ESTABLISHED; read from the
  server's side, so the never-reading clients still read nothing), or `held > observe`;
- `idle in transaction` sessions of the database (pg_stat_activity) at 5, 35 and 50 s after the
  last connection.
At the end each connection's first line is read (what it was answered: 408, 200, 503, nothing),
and the server log's warnings and errors are summarised.

Servers (2 workers x 4 threads each, the production settings; pool 4..6 connections per worker):
- `granian`         the service as production runs it: `python -m cms.server`
- `granian-cli`     the granian command with the same settings: every worker binds its own
                    SO_REUSEPORT socket (granian's default on Linux, which cms/server.py replaces)
- `gunicorn`        gunicorn gthread straight on the port (the README before issue 13)
- `gunicorn-nginx`  the same gunicorn behind nginx (request buffering, header/body/idle timeouts)

Every server runs the code of `--checkout` (default: this tree): cwd and PYTHONPATH are that
directory, so its own `cms` package and `wsgi.py` are imported (checked before the run). The
database is `--database-url`, or by default `cms_bench_slow_<cars>_<migration>`, created once with
the checkout's own `cms db up` and `cms demo-data --cars N --seed 1` (`--cars`, default 20,000) and
reused while its comment matches (cars, seed, latest migration, a hash of demo_data.sql).

    .venv/bin/python bench/slow_clients.py                                    # everything, this tree
    .venv/bin/python bench/slow_clients.py --servers granian --counts 10,50,200 --seconds 5 --slow 0
    git worktree add /tmp/bench-before d919a67                                # issue 20 before/after:
    .venv/bin/python bench/slow_clients.py --servers granian --counts '' --seconds 0 --checkout /tmp/bench-before
    .venv/bin/python bench/slow_clients.py --servers granian --counts '' --seconds 0

Needs PostgreSQL on 127.0.0.1:5432 as the current user (BENCH_ADMIN_URL overrides), wrk, and for
the gunicorn rows gunicorn (no longer a dependency of the service: `pip install gunicorn==27.0.1`)
and for gunicorn-nginx an nginx binary (Debian package nginx-light).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import math
import os
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
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.slow_clients import never_reading, slow_body  # noqa: E402 - the clients of tests/test_slow_clients.py

VENV_BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", f"postgresql://{getpass.getuser()}@127.0.0.1:5432/postgres")


WORKERS, THREADS = 2, 4
SEED = 1
IDLE_MARKS = (5, 35, 50)  # seconds after the last connection: idle-in-transaction sessions counted
PING_EVERY = 0.4  # seconds between the starts of two /ping requests while slow clients are held
PING_TIMEOUT = 5.0
POLL_EVERY = 0.25  # seconds between two looks at the server's ends of the held connections


def granian_cli_command(*, host: str, port: int, workers: int, threads: int) -> list[str]:
    """The granian command itself, for comparison with cms.server (see the module docstring)."""
    granian = shutil.which("granian", path=str(VENV_BIN)) or "granian"
    return [granian, "--interface", "wsgi", "--host", host, "--port", str(port), "--workers", str(workers),
            "--blocking-threads", str(threads), "--http", "1", "--no-ws", "--http1-header-read-timeout", "10000",
            "--respawn-failed-workers", "--log-level", "warning", "wsgi:app"]
NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    client_header_timeout 10s; client_body_timeout 10s; send_timeout 10s; keepalive_timeout 5s;
    client_max_body_size 60m;
    upstream app {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr;
            proxy_request_buffering on; proxy_buffering on;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ping(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /ping")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def checkout_env(checkout: Path, database_url: str) -> dict[str, str]:
    """Environment of a process that runs `checkout`'s code on `database_url`."""
    return {**os.environ, "PYTHONPATH": str(checkout), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": database_url, "JWT_SECRET": secrets.token_urlsafe(48), "TELEGRAM_ENABLED": "false"}


def check_checkout(checkout: Path) -> str:
    """`checkout`'s commit; refuses a checkout whose `cms` package would not be the one imported."""
    where = subprocess.run([sys.executable, "-c", "import cms; print(cms.__file__)"], cwd=checkout,
                           env=checkout_env(checkout, ""), capture_output=True, text=True, check=True,
                           timeout=60).stdout.strip()
    if Path(where).resolve() != (checkout / "cms" / "__init__.py").resolve():
        raise SystemExit(f"{checkout}: python imports cms from {where}, not from the checkout")
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, timeout=30).stdout.strip()
    return commit or "?"


def latest_migration(checkout: Path) -> str:
    versions = sorted(path.name.split("_", 1)[0] for path in (checkout / "sql" / "migrations").glob("[0-9]*_*.sql"))
    return versions[-1] if versions else "none"


def ensure_database(checkout: Path, cars: int) -> str:
    """cms_bench_slow_<cars>_<migration>, migrated and filled by `checkout`'s own commands (reused if it matches)."""
    migration = latest_migration(checkout)
    digest = hashlib.sha256((checkout / "sql" / "demo" / "demo_data.sql").read_bytes()).hexdigest()[:12]
    marker = f"cms bench slow_clients: {cars} cars, seed {SEED}, migration {migration}, demo_data.sql {digest}"
    name = f"cms_bench_slow_{cars}_{migration}"
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
        if row and row[0] == marker:
            print(f"database {name}: reused ({marker})", flush=True)
            return url
        if row:
            conn.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    print(f"database {name}: migrating and filling with {cars:,} cars ({checkout}) ...", flush=True)
    env = checkout_env(checkout, url) | {"APP_ENV": "development"}
    for command in (["db", "up"], ["demo-data", "--cars", str(cars), "--seed", str(SEED), "--jobs", "2", "--yes"]):
        subprocess.run([sys.executable, "-m", "cms.cli", *command], cwd=checkout, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=1800)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(pgsql.Identifier(name), pgsql.Literal(marker)))
    return url


@contextmanager
def serve(kind: str, database_url: str, tmp: Path, checkout: Path = ROOT):
    port = free_port()
    env = checkout_env(checkout, database_url) | {
        "APP_ENV": "production", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "DB_POOL_MIN": str(THREADS),
        "DB_POOL_MAX": str(THREADS + 2), "LOG_LEVEL": "WARNING"}
    processes = []
    app_port = free_port() if kind == "gunicorn-nginx" else port
    if kind.startswith("gunicorn"):
        gunicorn = shutil.which("gunicorn", path=str(VENV_BIN)) or "gunicorn"
        command = [gunicorn, "--bind", f"127.0.0.1:{app_port}", "--workers", str(WORKERS), "--threads", str(THREADS),
                   "--worker-class", "gthread", "--timeout", "60", "--keep-alive", "5", "--no-control-socket",
                   "wsgi:app"]
    elif kind == "granian-cli":
        command = granian_cli_command(host="127.0.0.1", port=port, workers=WORKERS, threads=THREADS)
    else:
        command = [sys.executable, "-m", "cms.server", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(WORKERS), "--threads", str(THREADS)]
    log = open(tmp / f"{kind}.log", "wb")  # noqa: SIM115 - closed below
    processes.append(subprocess.Popen(command, cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    try:
        wait_for_ping(f"http://127.0.0.1:{app_port}", processes[0])
        if kind == "gunicorn-nginx":
            for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (tmp / name).mkdir(exist_ok=True)
                os.chmod(tmp / name, 0o777)
            conf = tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, upstream=app_port, port=port))
            processes.append(subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))
            wait_for_ping(f"http://127.0.0.1:{port}", processes[-1])
        yield f"http://127.0.0.1:{port}", port
    finally:
        for process in reversed(processes):
            stop(process)
        log.close()


def ping_latencies(url: str, tries: int = 10, timeout: float = 5.0) -> list[float | None]:
    results = []
    for _ in range(tries):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=timeout) as response:
                response.read()
            results.append((time.perf_counter() - started) * 1000)
        except OSError:
            results.append(None)
        time.sleep(0.1)
    return results


def hold_slow_clients(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for number in range(count * 2):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if number % 2 == 0:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")  # half-open: the headers never end
        sockets.append(sock)
    return sockets


def describe(latencies: list[float | None]) -> str:
    answered = [value for value in latencies if value is not None]
    timeouts = len(latencies) - len(answered)
    if not answered:
        return f"all {timeouts} timed out"
    text = f"p50 {statistics.median(answered):.1f} ms, max {max(answered):.1f} ms"
    return text + (f", {timeouts} of {len(latencies)} timed out" if timeouts else "")


def wrk(url: str, seconds: float) -> tuple[float, float]:
    command = ["wrk", "-t2", "-c16", f"-d{max(1, round(seconds))}s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return rate, float(p50.group(1)) * scale


# --- issue 20: slow bodies and never-reading clients ------------------------------------------

@dataclass
class Held:
    kind: str  # "slow body" or "never reading"
    sock: socket.socket
    connected: float  # time.monotonic() after connect
    closed: float | None = None  # seconds from connect until the server's end left ESTABLISHED
    answer: str = ""  # the status line the client found at the end ("" if none)
    end: str = ""  # a never-reading connection still held at the end: what reading it then gives

    @property
    def client_port(self) -> int:
        return self.sock.getsockname()[1]


def server_ends_established(port: int) -> set[int]:
    """Client ports whose connection to 127.0.0.1:`port` is still ESTABLISHED on the server's side."""
    ports = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def idle_in_transaction(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND state = 'idle in transaction' AND pid <> pg_backend_pid()").fetchone()[0]


def timed_ping(url: str, results: list, index: int) -> None:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=PING_TIMEOUT) as response:
            response.read()
        results[index] = (time.perf_counter() - started) * 1000
    except OSError:
        results[index] = None


def first_line(sock: socket.socket) -> str:
    """The status line of what the server sent (read only now, after the observation)."""
    sock.settimeout(0.2)
    try:
        data = sock.recv(64)
    except (TimeoutError, OSError):
        return ""
    return data.split(b"\r\n", 1)[0].decode("latin-1") if data else ""


LAST_CHUNK = b"0\r\n\r\n"


def drain(sock: socket.socket, seconds: float = 2.0) -> str:
    """Read what is left of an answer for at most `seconds`: whether it ends, and whole or cut short."""
    deadline, received, tail = time.monotonic() + seconds, 0, b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            break
        except OSError:
            return "reset"
        if not chunk:
            return "ends whole" if tail.endswith(LAST_CHUNK) else "ends cut short (no last chunk)"
        received += len(chunk)
        tail = (tail + chunk)[-len(LAST_CHUNK):]
    return f"still open after {seconds:g} s of reading"


@dataclass
class Issue20:
    pings: list[float | None]
    held: list[Held]
    idle: dict[int, int]  # seconds after the last connection -> idle-in-transaction sessions
    observe: float
    load: tuple[tuple[float, float, float], tuple[float, float, float]]


def measure_bodies_and_readers(url: str, port: int, database_url: str, count: int, pings: int,
                               observe: float) -> Issue20:
    """`count` slow bodies and `count` never-reading clients, opened in turn, held `observe` s at most."""
    load_before = os.getloadavg()
    held: list[Held] = []
    threads: list[threading.Thread] = []
    results: list[float | None] = [None] * pings
    idle: dict[int, int] = {}
    try:
        for number in range(count):
            held.append(Held("slow body", slow_body(port, chunked=number % 2 == 1), time.monotonic()))
            held.append(Held("never reading", never_reading(port), time.monotonic()))
        start = time.monotonic()
        marks = [mark for mark in IDLE_MARKS if mark < observe]
        by_port = {item.client_port: item for item in held}
        while (now := time.monotonic()) < start + observe:
            established = server_ends_established(port)
            for client_port, item in by_port.items():
                if item.closed is None and client_port not in established:
                    item.closed = now - item.connected
            while len(threads) < pings and now >= start + 1 + PING_EVERY * len(threads):
                thread = threading.Thread(target=timed_ping, args=(url, results, len(threads)), daemon=True)
                thread.start()
                threads.append(thread)
            if marks and now >= start + marks[0]:
                idle[marks.pop(0)] = idle_in_transaction(database_url)
            if not marks and len(threads) == pings and all(item.closed is not None for item in held):
                break
            time.sleep(POLL_EVERY)
        for thread in threads:
            thread.join(PING_TIMEOUT + 5)
        for item in held:
            item.answer = first_line(item.sock)
        for item in held:  # bounded: 2 s each at most
            if item.kind == "never reading" and item.closed is None:
                item.end = drain(item.sock)
    finally:
        for item in held:
            item.sock.close()
    return Issue20(results[:len(threads)], held, idle, observe, (load_before, os.getloadavg()))


def nearest_rank(values: list[float], fraction: float) -> float:
    return sorted(values)[max(0, math.ceil(fraction * len(values)) - 1)]


def describe_pings(latencies: list[float | None]) -> str:
    """p50, p90 and max over every /ping (a timeout counts as the slowest), and the timeouts."""
    if not latencies:
        return "no /ping asked"
    values = [math.inf if value is None else value for value in latencies]

    def fmt(value: float) -> str:
        return f"timeout (> {PING_TIMEOUT:g} s)" if math.isinf(value) else f"{value:.1f} ms"

    timeouts = sum(value is None for value in latencies)
    return (f"p50 {fmt(nearest_rank(values, 0.5))}, p90 {fmt(nearest_rank(values, 0.9))}, "
            f"max {fmt(max(values))}, {timeouts} of {len(latencies)} timed out")


def status_of(item: Held) -> str:
    parts = item.answer.split(" ", 2)
    return parts[1] if len(parts) > 1 else "no answer"


def describe_held(items: list[Held], observe: float) -> str:
    """Per answer (408, 200, 503, none): how many, and how long the server held them."""
    parts = []
    for answer in sorted({status_of(item) for item in items}):
        group = [item.closed for item in items if status_of(item) == answer]
        closed = sorted(value for value in group if value is not None)
        text = f"{answer} x{len(group)}"
        if closed:
            text += (f" closed after {closed[0]:.1f}-{closed[-1]:.1f} s (median {statistics.median(closed):.1f} s)")
        if len(closed) < len(group):
            text += f"{',' if closed else ''} {len(group) - len(closed)} held > {observe:g} s"
        parts.append(text)
    return "; ".join(parts)


def longest_hold(items: list[Held], observe: float) -> str:
    if any(item.closed is None for item in items):
        return f"held > {observe:g} s"
    return f"{max(item.closed for item in items):.1f} s"


def report_issue20(label: str, result: Issue20) -> None:
    bodies = [item for item in result.held if item.kind == "slow body"]
    readers = [item for item in result.held if item.kind == "never reading"]
    (b1, b5, b15), (a1, a5, a15) = result.load
    print(f"{label}: {len(bodies)} slow bodies + {len(readers)} never-reading clients held "
          f"(load average {b1:.2f} {b5:.2f} {b15:.2f} before, {a1:.2f} {a5:.2f} {a15:.2f} after)", flush=True)
    print(f"{label}:   /ping meanwhile: {describe_pings(result.pings)}", flush=True)
    print(f"{label}:   slow bodies: longest {longest_hold(bodies, result.observe)}; "
          f"{describe_held(bodies, result.observe)}", flush=True)
    print(f"{label}:   never-reading: longest {longest_hold(readers, result.observe)}; "
          f"{describe_held(readers, result.observe)}", flush=True)
    ends = sorted({item.end for item in readers if item.end})
    if ends:
        print(f"{label}:   never-reading held at the end, then read: " + "; ".join(
            f"{sum(item.end == end for item in readers)} {end}" for end in ends), flush=True)
    idle = ", ".join(f"{count} at {mark} s" for mark, count in sorted(result.idle.items()))
    print(f"{label}:   idle in transaction: {idle}", flush=True)


def summarise_log(path: Path, limit: int = 5) -> str:
    """The server log's lines (WARNING and above: LOG_LEVEL=WARNING), counted, the first few shown."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not lines:
        return "server log: empty"
    errors = sum(" ERROR " in line or "Traceback" in line for line in lines)
    shown = "\n".join(f"    {line[:200]}" for line in lines[:limit])
    return f"server log: {len(lines)} lines ({errors} ERROR/Traceback), first {min(limit, len(lines))}:\n{shown}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the tree whose server is measured "
                                                                    "(default: this one)")
    parser.add_argument("--database-url", help="a database migrated for the checkout, holding cars (default: "
                                               "cms_bench_slow_<cars>_<migration>, created if missing)")
    parser.add_argument("--cars", type=int, default=20_000, help="cars of the default database")
    parser.add_argument("--servers", default="granian,granian-cli,gunicorn,gunicorn-nginx")
    parser.add_argument("--counts", default="10,50,200", help="slow clients held at once (each count: that many "
                                                               "half-open plus that many silent connections)")
    parser.add_argument("--seconds", type=float, default=5, help="wrk seconds per route (0: no throughput run)")
    parser.add_argument("--car", type=int, default=1)
    parser.add_argument("--slow", type=int, default=16, help="issue 20, granian server only: slow bodies and as "
                                                             "many never-reading clients (0: not measured)")
    parser.add_argument("--pings", type=int, default=20, help="/ping requests while they are held")
    parser.add_argument("--observe", type=float, default=60, help="seconds they are held at most")
    parser.add_argument("--log-dir", type=Path, help="keep the server logs here (default: removed)")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    commit = check_checkout(checkout)
    database_url = args.database_url or ensure_database(checkout, args.cars)
    print(f"checkout {checkout} at {commit}, database {database_url.rsplit('/', 1)[1]}, "
          f"load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}", flush=True)
    counts = [int(count) for count in args.counts.split(",") if count]
    for kind in args.servers.split(","):
        with tempfile.TemporaryDirectory(prefix=f"cms-slow-{kind}-") as tmp:
            log_dir = args.log_dir or Path(tmp)
            log_dir.mkdir(parents=True, exist_ok=True)
            with serve(kind, database_url, log_dir, checkout) as (url, port):
                print(f"{kind}: idle /ping {describe(ping_latencies(url, 5))}", flush=True)
                for count in counts:
                    sockets = hold_slow_clients(port, count)
                    try:
                        time.sleep(0.5)
                        print(f"{kind}: {count} half-open + {count} silent connections: /ping "
                              f"{describe(ping_latencies(url))}", flush=True)
                    finally:
                        for sock in sockets:
                            sock.close()
                    time.sleep(0.5)
                if args.seconds:
                    for label, path in (("GET /api/cars/:id", f"/api/cars/{args.car}"),
                                        ("GET /api/cars?limit=20", "/api/cars?limit=20")):
                        wrk(url + path, 1)  # warm-up
                        rate, p50 = wrk(url + path, args.seconds)
                        print(f"{kind}: {label}: {rate:.0f} req/s, p50 {p50:.1f} ms", flush=True)
                if args.slow and kind == "granian":
                    result = measure_bodies_and_readers(url, port, database_url, args.slow, args.pings, args.observe)
                    report_issue20(f"{kind} {commit}", result)
                    time.sleep(1)
                    print(f"{kind}: after closing them: idle /ping {describe(ping_latencies(url, 3))}, "
                          f"idle in transaction {idle_in_transaction(database_url)}", flush=True)
            print(f"{kind}: {summarise_log(log_dir / f'{kind}.log')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
