"""SIGTERM under load: the server stops accepting at once, finishes the requests it has (a body
still arriving, a handler waiting on the database), answers them, and exits 0.

(tests/test_server_stop.py covers the races of the stop itself; tests/test_rolling_restart.py the
restart of two instances behind HAProxy.)"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest
import requests
from support.app import TEST_JWT_SECRET
from support.live_server import start_server

pytestmark = pytest.mark.slow


def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_exits_0(database_url, factory, sql, tmp_path):
    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller, status="available")
    server = start_server(database_url, tmp_path, workers=1, threads=4, jwt_secret=TEST_JWT_SECRET)
    try:
        # a request whose body is half sent
        body = json.dumps({"email": "nobody@example.com", "password": "Wrong-Passw0rd"}).encode()
        half_sent = socket.create_connection(("127.0.0.1", server.port))
        half_sent.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        # a request whose handler waits for a row lock held here
        answers = []
        with sql.transaction():
            sql.execute("SELECT id FROM cars WHERE id = %s FOR UPDATE", (car["id"],))
            checkout = threading.Thread(target=lambda: answers.append(requests.post(
                f"{server.url}/api/payments/checkout", json={"carId": car["id"]}, headers=factory.headers(buyer),
                timeout=30)))
            checkout.start()
            deadline = time.monotonic() + 10
            while not sql.execute("SELECT 1 FROM pg_locks WHERE NOT granted").fetchone():
                assert time.monotonic() < deadline, "the checkout never reached the database"
                time.sleep(0.05)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            with pytest.raises(OSError):  # no new connection once the stop began
                socket.create_connection(("127.0.0.1", server.port), timeout=2)
            assert server.process.poll() is None  # still finishing
        checkout.join(timeout=20)
        assert [answer.status_code for answer in answers] == [200]
        half_sent.sendall(body[10:])
        half_sent.settimeout(10)
        assert half_sent.recv(100).startswith(b"HTTP/1.1 400 ")  # "Invalid credentials": answered, not cut
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
