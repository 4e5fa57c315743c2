"""A pg_auto_failover formation for tests: a monitor, a primary and a synchronous standby.

Everything runs from one temporary directory on free 127.0.0.1 ports, as the `postgres` system
user when the tests run as root (PostgreSQL and pg_autoctl refuse root), with pg_autoctl's
configuration and state kept in that directory (XDG_* variables), so that nothing outside it is
touched. The monitor's detection timers are shortened (a health check every second, a node
unhealthy after 3 s instead of 20 s) so that a failover takes seconds.

    formation = formation_or_skip()        # monitor + node1 (primary) + node2 (sync standby)
    formation.url("cms")                   # the multi-host URL, target_session_attrs=read-write
    formation.kill_primary_postmaster()    # kill -9 of the primary's postmaster
    formation.remove()
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from support.pgbouncer import free_port, missing_tool, run_as_postgres
from support.replica import postgres_bin_dir

# The monitor's timers (pgautofailover.*, milliseconds): a health check every second, one retry
# after half a second, a node unhealthy after 3 s without a good check or report (defaults:
# 5 s, 5 s, 2, 2 s, 20 s).
MONITOR_TIMERS = {
    "health_check_period": 1000,
    "health_check_timeout": 1000,
    "health_check_max_retries": 1,
    "health_check_retry_delay": 500,
    "node_considered_unhealthy_timeout": 3000,
}


def pg_autoctl() -> Path | None:
    """pg_autoctl of Debian's postgresql-15-auto-failover (or PG_BIN), or None."""
    for candidate in (postgres_bin_dir() / "pg_autoctl", Path("/usr/bin/pg_autoctl")):
        if candidate.exists():
            return candidate
    found = shutil.which("pg_autoctl")
    return Path(found) if found else None


def formation_or_skip(database: str = "cms") -> Formation:
    """A running formation, or skip (fail under CI) when pg_auto_failover is not installed."""
    binary = pg_autoctl()
    if binary is None:
        missing_tool("pg_autoctl is not installed (Debian: postgresql-15-auto-failover; scripts/ensure-auto-failover)")
    formation = Formation(binary)
    try:
        return formation.build(database)
    except BaseException:
        formation.remove()
        raise


@dataclass
class Node:
    name: str
    data: Path
    port: int
    process: subprocess.Popen | None = None

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])


class Formation:
    """build() creates and runs the monitor and two data nodes; remove() stops them and deletes all."""

    def __init__(self, binary: Path):
        self.binary = binary
        self.base = Path(tempfile.mkdtemp(prefix="cms-autofailover-"))
        if run_as_postgres():
            shutil.chown(self.base, "postgres", "postgres")
        self.monitor = Node("monitor", self.base / "monitor", free_port())
        self.nodes = [Node(f"node{n}", self.base / f"node{n}", free_port()) for n in (1, 2)]
        self.env = {
            "XDG_CONFIG_HOME": str(self.base / "config"), "XDG_DATA_HOME": str(self.base / "share"),
            "XDG_RUNTIME_DIR": str(self.base / "run"), "PGCONNECT_TIMEOUT": "2",
            "PATH": f"{postgres_bin_dir()}:/usr/local/bin:/usr/bin:/bin",
        }

    # --- commands --------------------------------------------------------------------------------

    def _command(self, *args) -> list[str]:
        variables = [f"{name}={value}" for name, value in self.env.items()]
        return [*run_as_postgres(), "env", *variables, str(self.binary), *map(str, args)]

    def _run(self, *args, timeout: float = 60) -> str:
        done = subprocess.run(self._command(*args), cwd=self.base, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"pg_autoctl {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _start(self, node: Node) -> None:
        log = open(self.base / f"{node.name}.log", "a")  # noqa: SIM115 - closed with the process
        node.process = subprocess.Popen(self._command("run", "--pgdata", node.data), cwd=self.base, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def monitor_url(self, user: str = "autoctl_node") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.monitor.port}/pg_auto_failover?sslmode=disable"

    def url(self, database: str = "cms") -> str:
        """What the service is given: every node, the one that accepts writes chosen by libpq."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def node_url(self, node: Node, database: str = "cms") -> str:
        return f"postgresql://postgres@127.0.0.1:{node.port}/{database}"

    # --- life cycle ------------------------------------------------------------------------------

    def build(self, database: str = "cms") -> Formation:
        (self.base / "run").mkdir()
        if run_as_postgres():
            shutil.chown(self.base / "run", "postgres", "postgres")
        self._run("create", "monitor", "--pgdata", self.monitor.data, "--pgport", self.monitor.port,
                  "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl")
        self._start(self.monitor)
        self._wait_for_monitor()
        with psycopg.connect(self.monitor_url("postgres"), autocommit=True) as conn:
            for name, value in MONITOR_TIMERS.items():
                conn.execute(f"ALTER SYSTEM SET pgautofailover.{name} = {int(value)}")
            conn.execute("SELECT pg_reload_conf()")
        for node in self.nodes:  # node1 becomes the primary, node2 its synchronous standby
            self._run("create", "postgres", "--pgdata", node.data, "--pgport", node.port, "--hostname", "127.0.0.1",
                      "--auth", "trust", "--no-ssl", "--monitor", self.monitor_url(), "--dbname", database,
                      "--name", node.name, timeout=120)
            self._start(node)
        self.wait_for_states({"node1": "primary", "node2": "secondary"}, timeout=90)
        return self

    def _wait_until(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout} s:\n{self.logs()}")
            time.sleep(0.1)

    def _wait_for_monitor(self, timeout: float = 30) -> None:
        def answers() -> bool:
            try:
                with psycopg.connect(self.monitor_url(), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                return False

        self._wait_until(answers, "the monitor answers", timeout)

    def states(self) -> dict[str, tuple[str, str]]:
        """{node name: (reported state, assigned state)} from the monitor."""
        with psycopg.connect(self.monitor_url(), autocommit=True, connect_timeout=2) as conn:
            rows = conn.execute("SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node")
            return {name: (reported, goal) for name, reported, goal in rows}

    def wait_for_states(self, wanted: dict[str, str], timeout: float) -> None:
        """Until each named node reports, and is assigned, the wanted state."""
        self._wait_until(lambda: all(self.states().get(name) == (state, state) for name, state in wanted.items()),
                         f"formation states {wanted}", timeout)

    def primary(self) -> Node:
        """The node the monitor has as primary now."""
        states = self.states()
        for node in self.nodes:
            if states.get(node.name, ("",))[0] in {"primary", "wait_primary", "single"}:
                return node
        raise LookupError(f"no primary: {states}")

    def kill_primary_postmaster(self) -> Node:
        """kill -9 of the primary's postmaster (its keeper, pg_autoctl, stays); returns the node."""
        node = self.primary()
        os.kill(node.postmaster_pid(), signal.SIGKILL)
        return node

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.base.glob("*.log")))

    def remove(self) -> None:
        for node in [*self.nodes, self.monitor]:
            if node.process is None:
                continue
            try:
                self._run("stop", "--pgdata", node.data, "--immediate", timeout=20)
                node.process.wait(timeout=20)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(node.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for node in [*self.nodes, self.monitor]:  # a postmaster left behind by a killed keeper
            try:
                os.kill(node.postmaster_pid(), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        shutil.rmtree(self.base, ignore_errors=True)
