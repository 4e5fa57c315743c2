"""Slow and idle clients cannot take the service down (issue 13): under gunicorn's threaded workers,
ten connections that never finished their headers made every /ping time out. The latencies under
each server are figures of bench/slow_clients.py; here only that /ping still answers, and that
granian's header timeout closes connections that stay silent."""

from __future__ import annotations

import os
import socket
import time

import requests

from cms.server import HEADER_READ_TIMEOUT_MS


def test_fifty_slow_and_fifty_silent_connections_leave_ping_answering(live_server):
    held = []
    try:
        for number in range(100):
            sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
            if number % 2 == 0:
                sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")  # the headers never end
            held.append(sock)
        for _ in range(3):
            response = requests.get(f"{live_server.url}/ping", timeout=30)
            assert response.status_code == 200
            assert response.json()["status"] == "alive"
    finally:
        for sock in held:
            sock.close()


def closed_by_server_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (EOF or reset) within `seconds`; what it sent first is ignored."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    return False


def test_silent_half_open_and_idle_keep_alive_connections_are_closed_after_the_header_timeout(live_server):
    bound = HEADER_READ_TIMEOUT_MS / 1000 + 20  # generous: the machine may be busy
    silent = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
    half_open = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
    half_open.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
    idle = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
    idle.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")  # one answered request, then nothing
    try:
        assert b" 200 " in idle.recv(65536).split(b"\r\n", 1)[0] + b" "
        for sock in (silent, half_open, idle):
            assert closed_by_server_within(sock, bound)
    finally:
        for sock in (silent, half_open, idle):
            sock.close()


def server_side_inodes(port: int, peer_ports: set[int]) -> set[str]:
    """Socket inodes of the server's ends (local `port`) of established connections from `peer_ports`."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local_port, peer_port = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            if local_port == port and peer_port in peer_ports and fields[3] == "01":
                inodes.add(fields[9])
    return inodes


def connections_per_worker(server, clients: list[socket.socket]) -> dict[int, int]:
    """How many of these client connections each worker process holds the server's end of."""
    inodes = server_side_inodes(server.port, {sock.getsockname()[1] for sock in clients})
    counts = {}
    for pid in server.worker_pids():
        held = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts[pid] = held
    return counts


def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(live_server):
    # Sixteen connections opened at once (as wrk -c16 does) used to be accepted by one worker
    # out of two, leaving the other idle for as long as they were kept alive. With a socket per
    # worker slot the kernel spreads them: every worker gets some (all in one: 2 in 65,536).
    live_server.wait_for_workers(2)
    held = [socket.create_connection(("127.0.0.1", live_server.port), timeout=10) for _ in range(16)]
    try:
        for sock in held:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in held:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        counts = connections_per_worker(live_server, held)
        assert sum(counts.values()) == 16, counts
        assert all(counts.values()), f"connections per worker PID: {counts}"
    finally:
        for sock in held:
            sock.close()
