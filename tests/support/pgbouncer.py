"""A private PgBouncer (the real binary, Debian package `pgbouncer`) for tests.

Started in transaction pooling mode on a free 127.0.0.1 port, from a temporary directory, in
front of a PostgreSQL server (by default the shared one on 127.0.0.1:5432); every database name a
client asks for is forwarded to the same name on that server, with the client's user name.
PgBouncer refuses to run as root, so as root it runs as the `postgres` system user.

`pgbouncer_or_skip()` skips the calling tests with a printed reason where the binary is missing;
CI (.ci/run) installs it and sets CMS_REQUIRE_SCALE_OUT_TOOLS=1, so there they fail rather than skip.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

PGBOUNCER_CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def find_pgbouncer() -> str | None:
    """The pgbouncer binary: PGBOUNCER_BIN, PATH, or Debian's /usr/sbin."""
    if os.environ.get("PGBOUNCER_BIN"):
        return os.environ["PGBOUNCER_BIN"]
    found = shutil.which("pgbouncer")
    if found:
        return found
    return next((path for path in PGBOUNCER_CANDIDATES if Path(path).exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_as_postgres() -> list[str]:
    """The prefix that runs a command as `postgres` when we are root (PostgreSQL tools refuse root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PgBouncer:
    """pgbouncer -d in a temporary directory; stop() ends it and removes the directory."""

    def __init__(self, server_host: str | None = None, server_port: int | None = None, *, pool_size: int = 4,
                 pool_mode: str = "transaction", binary: str | None = None):
        # By default the tests' server: the machine's on 127.0.0.1:5432, or the embedded one.
        test_server = urlsplit(os.environ.get("TEST_DATABASE_ADMIN_URL", ""))
        server_host = server_host or test_server.hostname or "127.0.0.1"
        server_port = server_port or test_server.port or 5432
        self.default_user = test_server.username or getpass.getuser()
        self.binary = binary or find_pgbouncer()
        if not self.binary:
            raise FileNotFoundError("pgbouncer is not installed")
        self.base = Path(tempfile.mkdtemp(prefix="cms-pgbouncer-"))
        self.port = free_port()
        self.pidfile = self.base / "pgbouncer.pid"
        self.logfile = self.base / "pgbouncer.log"
        users = {getpass.getuser(), "postgres"}
        # auth_type trust: PgBouncer asks nothing, but the user must be listed; the server then
        # authenticates PgBouncer's own connections as that user (trust on the test servers).
        (self.base / "users.txt").write_text("".join(f'"{user}" ""\n' for user in sorted(users)))
        (self.base / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server_host} port={server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.base / 'users.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            # psycopg sends no `options` in transaction mode, but a client that does is not refused.
            "ignore_startup_parameters = extra_float_digits,options\n"
            "server_check_delay = 0\n"
            "admin_users = postgres\n"
            f"pidfile = {self.pidfile}\n"
            f"logfile = {self.logfile}\n"
        )
        if run_as_postgres():
            shutil.chown(self.base, "postgres", "postgres")
            for path in self.base.iterdir():
                shutil.chown(path, "postgres", "postgres")

    def url(self, database: str, user: str | None = None) -> str:
        return f"postgresql://{user or self.default_user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PgBouncer:
        subprocess.run([*run_as_postgres(), self.binary, "-d", str(self.base / "pgbouncer.ini")],
                       cwd=self.base, check=True, capture_output=True, text=True, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen on {self.port}:\n{self.log()}")

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid:
            try:
                os.kill(pid, signal.SIGINT)  # SIGINT: safe shutdown, closes every connection at once
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and _alive(pid):
                    time.sleep(0.05)
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)

    def show(self, what: str) -> list[tuple]:
        """Rows of PgBouncer's admin console `SHOW <what>` (pools, servers, clients...)."""
        with psycopg.connect(self.url("pgbouncer", "postgres"), autocommit=True) as conn:
            return conn.execute(f"SHOW {what}", prepare=False).fetchall()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def missing_tool(reason: str) -> None:
    """Skip the calling test/fixture with a printed reason; under CI (CMS_REQUIRE_SCALE_OUT_TOOLS=1,
    set by .ci/run, which installs the tools) fail instead, so CI never skips these tests."""
    if os.environ.get("CMS_REQUIRE_SCALE_OUT_TOOLS") == "1":
        pytest.fail(f"{reason}, and CMS_REQUIRE_SCALE_OUT_TOOLS=1 says it must be there")
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def pgbouncer_or_skip() -> str:
    """The pgbouncer binary, or skip (fail under CI) with a printed reason."""
    binary = find_pgbouncer()
    if not binary:
        missing_tool("pgbouncer is not installed (Debian: apt-get install pgbouncer; scripts/ensure-pgbouncer)")
    return binary
