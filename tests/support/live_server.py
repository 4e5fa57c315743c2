"""Run the real service (granian through `python -m cms.server`, several workers and threads) for
tests that need concurrent HTTP clients, several instances or process faults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    def worker_pids(self) -> list[int]:
        """PIDs of the workers: the children of the main process, whichever of its threads forked them
        (/proc lists a child under the thread that forked it)."""
        pids = []
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            try:
                pids.extend(int(pid) for pid in children.read_text().split())
            except OSError:  # a thread that ended meanwhile
                continue
        return sorted(pids)

    def wait_for_workers(self, count: int, timeout: float = 20.0) -> list[int]:
        """The worker PIDs once the main process runs `count` of them (/ping answers as soon as the first is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == count:
                return pids
            time.sleep(0.05)
        raise RuntimeError(f"the server did not reach {count} workers within {timeout} s (has {self.worker_pids()})")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (the server stops its workers), then SIGKILL to the whole process group, so that no
        worker outlives the test holding database connections."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_until_up(url: str, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer /ping within {timeout} s")


def start_server(database_url: str, log_dir: Path, *, workers: int = 2, threads: int = 4,
                 extra_env: dict | None = None, wait: bool = True,
                 jwt_secret: str = "live-test-secret-" + "y" * 40, port: int | None = None) -> LiveServer:
    """Start the service on a free 127.0.0.1 port; returns once /ping answers (unless wait=False).
    There is no per-request timeout (gunicorn had one): PostgreSQL's statement timeout bounds the work.

    Pass the tests' JWT secret (conftest.TEST_JWT_SECRET) so factory.headers() work against it; `port`
    to start it again where a stopped one listened (a rolling restart).
    """
    port = port or free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET": jwt_secret,
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": str(max(4, threads + 2)),
        "DB_POOL_TIMEOUT": "3",
        "TELEGRAM_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    log_path = log_dir / f"server-{port}.log"
    log_file = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "cms.server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--threads", str(threads)],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = LiveServer(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path, env=env)
    if wait:
        try:
            wait_until_up(server.url, process=process)
        except RuntimeError:
            server.stop()
            raise RuntimeError(f"the server did not start:\n{server.log()}") from None
    return server
