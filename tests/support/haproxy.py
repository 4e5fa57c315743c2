"""A private HAProxy in front of service instances, for tests (Debian package `haproxy`).

Started in the foreground (-db) from a temporary directory on a free 127.0.0.1 port; it checks
each instance with GET /ping every CHECK_INTERVAL_MS, takes it out after one failed check and back
after two good ones, and sends a request whose connection failed, or that got no answer at all, to
the other instance (retries + redispatch). POSTs carry an Idempotency-Key in the tests, which is
what makes retrying them safe.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from support.pgbouncer import free_port, missing_tool

CHECK_INTERVAL_MS = 200

CONFIG = """\
global
    maxconn 512
defaults
    mode http
    timeout connect 500ms
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend web
    bind 127.0.0.1:{port}
    default_backend service
backend service
    balance roundrobin
    option httpchk GET /ping
    http-check expect status 200
    default-server inter {interval}ms fall 1 rise 2
{servers}
"""


def haproxy_or_skip() -> str:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        missing_tool("haproxy is not installed (Debian: apt-get install haproxy; scripts/ensure-haproxy)")
    return binary


class HAProxy:
    def __init__(self, backend_ports: list[int]):
        self.binary = haproxy_or_skip()
        self.base = Path(tempfile.mkdtemp(prefix="cms-haproxy-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"    server s{n} 127.0.0.1:{port} check" for n, port in enumerate(backend_ports))
        (self.base / "haproxy.cfg").write_text(CONFIG.format(port=self.port, interval=CHECK_INTERVAL_MS,
                                                             servers=servers))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> HAProxy:
        log = open(self.base / "haproxy.log", "w")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen([self.binary, "-db", "-f", str(self.base / "haproxy.cfg")], cwd=self.base,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{(self.base / 'haproxy.log').read_text()}")
            time.sleep(0.1)

    def times_up(self, index: int) -> int:
        """How often HAProxy has marked server `index` UP again (its log)."""
        path = self.base / "haproxy.log"
        return path.read_text(errors="replace").count(f"Server service/s{index} is UP") if path.exists() else 0

    def wait_until_up_again(self, index: int, before: int, timeout: float = 15.0) -> None:
        """Until HAProxy has marked server `index` UP more often than `before` (back in rotation)."""
        deadline = time.monotonic() + timeout
        while self.times_up(index) <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"HAProxy did not take s{index} back within {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)
