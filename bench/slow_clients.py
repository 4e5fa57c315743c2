#!/usr/bin/env python3
"""Slow and idle clients against each way of serving the app (issue 13), and throughput.

For each server it holds N half-open connections (each sent `GET /ping HTTP/1.1\\r\\nHost: x\\r\\n`
and nothing more) plus N connections that sent nothing at all, and meanwhile asks /ping 10 times
(5 s timeout each): the latencies, or `timeout`, are the figures. Then, with no slow clients,
`wrk -t2 -c16` on GET /api/cars/:id and GET /api/cars?limit=20 for a few seconds each.

Servers (2 workers x 4 threads each, the production settings):
- `granian`         the service as production runs it: `python -m cms.server` (granian's WSGI
                    interface, one listening socket shared by the workers, 10 s header timeout)
- `granian-cli`     the granian command with the same settings: every worker binds its own
                    SO_REUSEPORT socket (granian's default on Linux, which cms/server.py replaces)
- `gunicorn`        gunicorn gthread straight on the port (the README before issue 13)
- `gunicorn-nginx`  the same gunicorn behind nginx (request buffering, header/body/idle timeouts)

    .venv/bin/python bench/slow_clients.py --database-url postgresql://root@127.0.0.1:5432/cms_bench_10k
    .venv/bin/python bench/slow_clients.py --servers granian --counts 10,50,200 --seconds 5

Needs the database to hold cars (bench/run.py creates cms_bench_10k), wrk, and for the gunicorn
rows gunicorn (no longer a dependency of the service: `pip install gunicorn==27.0.1`) and for
gunicorn-nginx an nginx binary (Debian package nginx-light).
"""

from __future__ import annotations

import argparse
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
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent


WORKERS, THREADS = 2, 4


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


@contextmanager
def serve(kind: str, database_url: str, tmp: Path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "production", "JWT_SECRET": secrets.token_urlsafe(48),
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "DB_POOL_MIN": str(THREADS),
           "DB_POOL_MAX": str(THREADS + 2), "TELEGRAM_ENABLED": "false", "LOG_LEVEL": "WARNING"}
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
    processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://root@127.0.0.1:5432/cms_bench_10k")
    parser.add_argument("--servers", default="granian,granian-cli,gunicorn,gunicorn-nginx")
    parser.add_argument("--counts", default="10,50,200", help="slow clients held at once (each count: that many "
                                                               "half-open plus that many silent connections)")
    parser.add_argument("--seconds", type=float, default=5, help="wrk seconds per route (0: no throughput run)")
    parser.add_argument("--car", type=int, default=1)
    args = parser.parse_args()
    counts = [int(count) for count in args.counts.split(",") if count]
    for kind in args.servers.split(","):
        with tempfile.TemporaryDirectory(prefix=f"cms-slow-{kind}-") as tmp, serve(kind, args.database_url,
                                                                                     Path(tmp)) as (url, port):
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
