#!/usr/bin/env python3
"""Requests right after PostgreSQL dropped every pooled connection of the service.

Starts the service as production runs it (`python -m cms.server`, 2 workers x 4 threads, the pool's
default 5 s timeout, 4 idle connections per worker), terminates every one of its connections with
pg_terminate_backend (what a failover or a PgBouncer restart does to them), then sends the next six
requests one after the other (/ping and GET /api/cars?limit=1 in turn) and prints each one's
status and time. Several rounds, each on freshly dropped connections.

    .venv/bin/python bench/pool_recovery.py                       # this tree, on a new scratch database
    .venv/bin/python bench/pool_recovery.py --tree /tmp/cms-main  # another checkout's code

The scratch database (migrated with dbmate) is dropped at the end; --database-url uses a migrated
one instead.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
from slow_clients import free_port, stop, wait_for_ping  # bench/ is this script's directory

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SERVER = "postgresql://root@127.0.0.1:5432"
WORKERS, THREADS, IDLE_PER_WORKER = 2, 4, 4
APP_NAME = "cms-pool-recovery-bench"
REQUESTS = 6


def get(url: str, timeout: float = 30) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def scratch_database() -> tuple[str, str]:
    name = f"cms_bench_pool_{os.getpid()}"
    url = f"{SERVER}/{name}"
    subprocess.run([str(VENV_BIN / "dbmate"), "--url", f"postgres://root@127.0.0.1:5432/{name}?sslmode=disable",
                    "--migrations-dir", str(ROOT / "sql" / "migrations"), "--no-dump-schema", "up"],
                   check=True, capture_output=True)
    return name, url


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(tree: Path, database_url: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "DATABASE_URL": database_url, "APP_ENV": "production",
           "JWT_SECRET": secrets.token_urlsafe(48), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "DB_POOL_MIN": str(IDLE_PER_WORKER), "DB_POOL_MAX": str(THREADS + 2), "DB_POOL_TIMEOUT": "5",
           "TELEGRAM_ENABLED": "false", "LOG_LEVEL": "WARNING", "PGAPPNAME": APP_NAME}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "cms.server", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", str(WORKERS), "--threads", str(THREADS)],
                                   cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ping(url, process)
    except RuntimeError:
        stop(process)
        raise RuntimeError(f"the server did not start:\n{log_path.read_text(errors='replace')}") from None
    return process, url


def pooled_pids(admin: psycopg.Connection) -> list[int]:
    return [row[0] for row in admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                            (APP_NAME,))]


def round_after_termination(admin: psycopg.Connection, url: str) -> list[tuple[str, int, float]]:
    deadline = time.monotonic() + 30
    while len(pooled_pids(admin)) < WORKERS * IDLE_PER_WORKER and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = pooled_pids(admin)
    admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    while set(pooled_pids(admin)) & set(pids):
        time.sleep(0.02)
    time.sleep(0.2)  # the sockets are closed; nothing has touched the pools yet
    answers = []
    for n in range(REQUESTS):
        path = "/ping" if n % 2 == 0 else "/api/cars?limit=1"
        started = time.perf_counter()
        status = get(url + path)
        answers.append((path, status, (time.perf_counter() - started) * 1000))
    return answers, len(pids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose service runs (default: this one)")
    parser.add_argument("--database-url", help="a migrated database (default: a scratch one, dropped after)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    scratch = None
    if args.database_url:
        database_url = args.database_url
    else:
        scratch, database_url = scratch_database()
    process = None
    try:
        process, url = start(tree, database_url, Path(f"/tmp/{APP_NAME}-{os.getpid()}.log"))
        print(f"service code: {tree}; {WORKERS} workers x {THREADS} threads, {IDLE_PER_WORKER} idle connections "
              f"each, pool timeout 5 s", flush=True)
        with psycopg.connect(database_url, autocommit=True) as admin:
            for number in range(1, args.rounds + 1):
                answers, dropped = round_after_termination(admin, url)
                statuses = [status for _, status, _ in answers]
                times = [ms for _, _, ms in answers]
                print(f"round {number}: {dropped} connections terminated; next {REQUESTS}: "
                      + ", ".join(f"{status} {ms:,.0f} ms" for _, status, ms in answers)
                      + f" | all 200: {statuses == [200] * REQUESTS}, slowest {max(times):,.0f} ms, "
                        f"total {sum(times):,.0f} ms", flush=True)
    finally:
        if process is not None:
            stop(process)
        if scratch:
            drop_database(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
