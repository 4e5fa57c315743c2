"""A server refuses a port that another process listens on, whatever that process is: one line on
stderr and exit status 1, before anything says "serving on". Its own worker slots share their port
through SO_REUSEPORT; a stranger's socket with SO_REUSEPORT would share it too, and the kernel would
spread the connections over both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from support.live_server import free_port, start_server
from test_startup import run_bounded, serve_command, server_environment

from cms import server as cms_server

CMS = str(Path(sys.executable).parent / "cms")


def stranger(host: str, port: int, *, reuse_port: bool, reuse_address: bool = False) -> socket.socket:
    """Another program's listening socket on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if reuse_address:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(8)
    return sock


def taken_line(port: int, host: str = "127.0.0.1") -> str:
    return (f"{host}:{port} is taken: another process listens on port {port} (another cms server?); "
            "stop it or choose another PORT")


@pytest.mark.parametrize(("held_on", "options"), [
    ("127.0.0.1", {"reuse_port": True}),
    ("127.0.0.1", {"reuse_port": False}),
    ("127.0.0.1", {"reuse_port": True, "reuse_address": True}),
    ("0.0.0.0", {"reuse_port": True}),
])
def test_a_port_a_stranger_listens_on_is_refused(held_on, options):
    port = free_port()
    with stranger(held_on, port, **options):
        with pytest.raises(cms_server.CannotStart) as refused:
            cms_server.check_address_free("127.0.0.1", port)
    assert str(refused.value) == taken_line(port)
    cms_server.check_address_free("127.0.0.1", port)  # free again once the stranger has gone


def test_an_address_of_another_machine_is_one_clear_reason():
    with pytest.raises(cms_server.CannotStart, match=r"cannot listen on 192\.0\.2\.1:\d+: 192\.0\.2\.1 is not an "
                       r"address of this machine \(HOST\)"):
        cms_server.check_address_free("192.0.2.1", free_port())


def test_the_production_server_refuses_a_taken_port_with_one_line(database_url):
    env = server_environment(database_url)
    port = int(env["PORT"])
    with stranger("127.0.0.1", port, reuse_port=True):
        result = run_bounded(serve_command(env), env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"cms: cannot start: {taken_line(port)}"]
    assert result.stdout == ""


def test_cms_serve_refuses_a_taken_port_before_it_touches_the_database(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "APP_ENV")}
    # An unreachable database: had cms serve gone on to migrate, dbmate would fail with another message.
    env.update(PORT=str(port), DATABASE_URL="postgresql://root@127.0.0.1:1/cms")
    with stranger("127.0.0.1", port, reuse_port=True):
        result = subprocess.run([CMS, "serve", "--no-seed"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""  # neither "database: …" nor "serving on …"
    assert result.stderr.strip().splitlines() == [f"Error: cannot start: {taken_line(port)}"]


def test_a_host_that_is_not_an_ip_address_is_one_line(database_url):
    host = "999.1.1.1"
    env = {**server_environment(database_url), "HOST": host}
    result = run_bounded([sys.executable, "-m", "cms.server"], env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"cms: cannot start: HOST must be an IP address to listen on (e.g. 127.0.0.1, 0.0.0.0 or ::), got {host!r}"]

    serve = subprocess.run([CMS, "serve"], cwd=Path(env.get("TMPDIR", "/tmp")), env=env, capture_output=True,
                           text=True, timeout=60)
    assert (serve.returncode, serve.stdout) == (1, "")
    assert serve.stderr.strip().splitlines() == [
        f"Error: HOST must be an IP address to listen on (e.g. 127.0.0.1, 0.0.0.0 or ::), got {host!r}"]


@pytest.mark.slow
def test_a_second_server_on_the_port_of_a_running_one_is_refused_and_the_first_keeps_it(database_url, tmp_path):
    first = start_server(database_url, tmp_path, workers=2, threads=1)
    try:
        env = {**first.env, "PORT": str(first.port)}
        second = run_bounded([sys.executable, "-m", "cms.server", "--host", "127.0.0.1", "--port", str(first.port),
                              "--workers", "1"], env)
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [f"cms: cannot start: {taken_line(first.port)}"]
        for _ in range(10):
            with urllib.request.urlopen(f"{first.url}/ping", timeout=5) as response:
                assert response.status == 200
        assert first.process.poll() is None
    finally:
        first.stop()


def test_a_port_taken_between_the_check_and_the_slots_binding_is_one_line_too(capsys):
    port = free_port()
    built = cms_server.build_server(host="127.0.0.1", port=port, workers=2, threads=1)
    with stranger("127.0.0.1", port, reuse_port=False), pytest.raises(SystemExit) as stopped:
        built._init_shared_socket()
    assert stopped.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"cms: cannot start: cannot listen on 127.0.0.1:{port}: Address already in use (os error 98)"
    assert built._slots == []
