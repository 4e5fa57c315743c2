"""`cms serve` (what `make run` runs) listens on 127.0.0.1 unless HOST says otherwise: the
development server, whose seed accounts' passwords are in the README, is not reachable from the
network by default. Production (`python -m cms.server`) binds every interface unless HOST is set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.app import TEST_JWT_SECRET
from support.live_server import free_port

from cms import server as cms_server

CMS = Path(sys.executable).parent / "cms"


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses with a socket listening on the port, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:
            found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def serve_and_look(database_url: str, tmp_path: Path, **env_overrides: str) -> tuple[set[str], str]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "HOST"}, "DATABASE_URL": database_url,
           "PORT": str(port), "JWT_SECRET": TEST_JWT_SECRET, **env_overrides}
    server = subprocess.Popen([str(CMS), "serve", "--no-seed", "--workers", "1", "--threads", "1"], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not listening_addresses(port) and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        addresses = listening_addresses(port)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    return addresses, output


@pytest.mark.slow
def test_the_development_server_listens_on_loopback_unless_host_says_otherwise(database_url, tmp_path):
    addresses, output = serve_and_look(database_url, tmp_path)
    assert addresses == {"127.0.0.1"}, output
    assert "serving on http://localhost:" in output

    addresses, output = serve_and_look(database_url, tmp_path, HOST="0.0.0.0")
    assert addresses == {"0.0.0.0"}, output
    assert "serving on http://0.0.0.0:" in output


def test_production_binds_every_interface_unless_host_names_one(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("PORT", "4321")
    monkeypatch.delenv("HOST", raising=False)
    options = cms_server.parse_options([])
    assert (options.host, options.port) == ("0.0.0.0", 4321)
    monkeypatch.setenv("HOST", "10.1.2.3")
    assert cms_server.parse_options([]).host == "10.1.2.3"
