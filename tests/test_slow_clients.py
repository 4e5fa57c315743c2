"""Slow and idle clients cannot take the service down: clients that never finish their headers,
that send a body a byte at a time (or one byte and then nothing), or that never read the answer.
The latencies are figures of bench/slow_clients.py; here /ping (and a page that needs the database)
still answer while such clients are held, and each kind is cut off after its time limit."""

from __future__ import annotations

import os
import socket
import time

import psycopg
import pytest
import requests
from support.live_server import start_server
from support.slow_clients import never_reading, slow_body

from cms.operations.demo_data import DemoPlan, generate
from cms.server import HEADER_READ_TIMEOUT_MS

# Enough cars that the whole list (~6 MB) outgrows the socket buffers of a client that never reads.
MANY_CARS = 12_000


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


@pytest.fixture
def many_cars(database_url):
    generate(database_url, DemoPlan(cars=MANY_CARS, jobs=1))


def streams_open(database_url: str) -> int:
    """Sessions of other clients that sit idle inside a transaction (a stream's snapshot)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND state = 'idle in transaction' AND pid <> pg_backend_pid()").fetchone()[0]


def test_slow_bodies_and_never_reading_clients_leave_the_service_answering(live_server, many_cars):
    """16 bodies that never end (half chunked) and 16 whole-list reads never read: before, they held
    every thread of both workers and /ping timed out for as long as they were held."""
    held = []
    try:
        held += [slow_body(live_server.port, chunked=number % 2 == 1) for number in range(16)]
        held += [never_reading(live_server.port) for _ in range(16)]
        time.sleep(1)  # the streams have filled their clients' buffers
        for _ in range(6):
            assert requests.get(f"{live_server.url}/ping", timeout=5).status_code == 200
            page = requests.get(f"{live_server.url}/api/cars?limit=5", timeout=10)
            assert page.status_code == 200 and len(page.json()) == 5
    finally:
        for sock in held:
            sock.close()


@pytest.fixture(scope="module")
def impatient_server(database_url, tmp_path_factory):
    """The service with short client time limits: a body may pause 2 s (6 s in all), an answer stall 3 s."""
    server = start_server(database_url, tmp_path_factory.mktemp("impatient"), extra_env={
        "REQUEST_BODY_IDLE_TIMEOUT": "2", "REQUEST_BODY_TIMEOUT": "6", "RESPONSE_STALL_TIMEOUT": "3"})
    yield server
    server.stop()


def answer_and_close(sock: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What the server sends within `seconds`, and whether it then closed the connection."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        return received, False
    return received, True


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_that_stops_arriving_is_a_408_json_and_the_connection_is_closed(impatient_server, chunked):
    sock = slow_body(impatient_server.port, chunked=chunked)
    try:
        started = time.monotonic()
        answer, closed = answer_and_close(sock, 15)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"error": "The request body did not arrive in time' in answer or b'"error":"The request body' in answer
    assert closed
    assert time.monotonic() - started < 15


def test_a_body_that_trickles_past_the_whole_limit_is_a_408(impatient_server):
    sock = slow_body(impatient_server.port)
    try:
        for _ in range(8):  # a byte a second: never a 2 s pause, but more than 6 s in all
            time.sleep(1)
            try:
                sock.sendall(b" ")
            except OSError:
                break
        answer, _ = answer_and_close(sock, 10)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_client_that_stops_reading_is_cut_off_and_its_snapshot_released(impatient_server, many_cars,
                                                                          database_url):
    """The stream's transaction ends and the server drops the connection (the kernel's
    TCP_USER_TIMEOUT, set to the stall limit), while the client still has read nothing."""
    sock = never_reading(impatient_server.port)
    client_port = sock.getsockname()[1]
    try:
        time.sleep(1)
        assert streams_open(database_url) == 1  # the stream's snapshot, waiting on the client
        assert server_side_inodes(impatient_server.port, {client_port})
        deadline = time.monotonic() + 25
        while (streams_open(database_url) or server_side_inodes(impatient_server.port, {client_port})) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert streams_open(database_url) == 0
        assert not server_side_inodes(impatient_server.port, {client_port})  # the server's end is gone
        sock.settimeout(10)
        received = b""
        try:
            while chunk := sock.recv(1 << 20):
                received += chunk
        except ConnectionResetError:  # dropped: what the client had not read is lost with it
            received += b"<reset>"
    finally:
        sock.close()
    assert not received.endswith(b"\r\n0\r\n\r\n")  # never the last chunk: the list cannot pass for whole
