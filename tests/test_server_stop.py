"""Stop means stop: the production server (cms/server.py) started and stopped a hundred times per
signal style, with requests in flight and, every other cycle, a worker killed just before the
signal. Every stop must end every process of the server within STOP_BOUND seconds, exit 0, free the
port, and respawn no worker once the stop has begun.

The race this guards against (see cms/server.py): a stop signal handled while the main thread held
the lock of granian's wake-up Event deadlocked it, leaving a main process with no workers that kept
its listening sockets. It showed about once in tens of stops, so each style runs CYCLES times.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.live_server import free_port

CYCLES = 100
STOP_BOUND = 25.0  # seconds from the signal to the last process gone and the port free
STYLES = {
    "SIGTERM to the group": [("group", signal.SIGTERM)],
    "SIGTERM to the main process": [("main", signal.SIGTERM)],
    "SIGTERM to the group, then to the main process": [("group", signal.SIGTERM), ("main", signal.SIGTERM)],
    "SIGINT to the group": [("group", signal.SIGINT)],
}
LAUNCHER = Path(__file__).resolve().parent / "support" / "server_launcher.py"

pytestmark = pytest.mark.slow


class Launcher:
    """tests/support/server_launcher.py: forks servers on request (see its docstring)."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen([sys.executable, str(LAUNCHER)], env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def server_env(database_url: str) -> dict:
    return {**os.environ, "APP_ENV": "production", "DATABASE_URL": database_url,
            "JWT_SECRET": "stop-test-secret-" + "s" * 40, "DB_POOL_MIN": "1", "DB_POOL_MAX": "6",
            "DB_POOL_TIMEOUT": "3", "TELEGRAM_ENABLED": "false", "LOG_LEVEL": "WARNING",
            "PUBLIC_BASE_URL": "http://127.0.0.1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def session_members(session: int) -> list[int]:
    """Processes whose session id is `session` (the server's main process, its workers and their children)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":  # fields: state ppid pgrp session
            members.append(int(entry.name))
    return members


def port_is_free(port: int) -> bool:
    """Whether a plain listening socket could take the port (no SO_REUSEPORT: any listener there refuses it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_serving(url: str, pid: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200 and len(children(pid)) == 2:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"the server (PID {pid}) did not serve with 2 workers in time")


def requests_in_flight(url: str) -> list[threading.Thread]:
    """A whole-list read, a page and a login (bcrypt), started and not awaited."""
    def call(path: str, body: bytes | None = None) -> None:
        request = urllib.request.Request(url + path, data=body, headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10).read()
        except (OSError, urllib.error.HTTPError):
            pass  # cut off by the stop: expected

    calls = [("/api/cars", None), ("/api/cars?limit=20&sort=price_asc", None),
             ("/api/auth/login", b'{"email": "nobody@example.com", "password": "wrong-password"}')]
    threads = [threading.Thread(target=call, args=args, daemon=True) for args in calls]
    for thread in threads:
        thread.start()
    return threads


def stop_once(launcher: Launcher, steps, kill_a_worker: bool, log_path: Path) -> list[str]:
    """One start/stop cycle; the problems seen (empty when the stop was clean)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pid = int(launcher.ask(f"start {port} {log_path}"))
    problems = []
    try:
        wait_until_serving(url, pid, time.monotonic() + 30)
        threads = requests_in_flight(url)
        time.sleep(0.01)
        if kill_a_worker:
            os.kill(children(pid)[0], signal.SIGKILL)
        signalled = time.monotonic()
        for target, signum in steps:
            if target == "group":
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        outcome = launcher.ask(f"wait {pid} {STOP_BOUND}")
        while session_members(pid) or not port_is_free(port):
            if time.monotonic() - signalled > STOP_BOUND:
                problems.append(f"{STOP_BOUND} s after the signal: processes {session_members(pid)}, "
                                f"port free: {port_is_free(port)}")
                break
            time.sleep(0.02)
        if outcome != "exited 0":
            problems.append(f"main process: {outcome}")
        log = log_path.read_text(errors="replace")
        stop_line = log.find("stopping on SIGTERM/SIGINT")
        if stop_line >= 0 and "respawning" in log[stop_line:]:
            problems.append("a worker was respawned after the stop began")
        for thread in threads:
            thread.join(timeout=15)
    finally:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        launcher.ask(f"wait {pid} 5")
    if problems:
        problems.append("log:\n" + log_path.read_text(errors="replace")[-3000:])
    return problems


@pytest.mark.parametrize("style", STYLES)
def test_every_stop_ends_every_process_frees_the_port_and_respawns_nothing(style, database_url, tmp_path):
    launcher = Launcher(server_env(database_url))
    failures = []
    try:
        for cycle in range(CYCLES):
            problems = stop_once(launcher, STYLES[style], kill_a_worker=cycle % 2 == 1,
                                 log_path=tmp_path / f"server-{cycle}.log")
            if problems:
                failures.append(f"cycle {cycle}: " + "\n".join(problems))
                if len(failures) >= 3:
                    break
    finally:
        launcher.close()
    assert not failures, "\n\n".join(failures)


PROBE = Path(__file__).resolve().parent / "support" / "stop_probe.py"


@pytest.mark.parametrize("nth_line", range(1, 13))
def test_a_stop_signal_at_any_line_of_the_main_loop_wake_up_stops_the_server(nth_line):
    """SIGTERM handled at each point of the main loop's wake-up after a worker died (see
    tests/support/stop_probe.py). With a wake-up whose set() takes a lock that wait() or clear()
    holds (threading.Event), some of these points deadlocked the main thread for ever."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        str(Path(__file__).resolve().parent)])}
    probe = subprocess.Popen([sys.executable, str(PROBE), str(free_port()), str(nth_line)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = probe.communicate(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        os.killpg(probe.pid, signal.SIGKILL)
        output, _ = probe.communicate()
        pytest.fail(f"the server did not stop within {STOP_BOUND} s of SIGTERM:\n{output[-2000:]}")
    finally:
        try:
            os.killpg(probe.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert probe.returncode == 0, output[-2000:]
    assert "stopping on SIGTERM/SIGINT" in output
