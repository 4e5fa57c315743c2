"""A rolling restart under load: two instances of the real server behind HAProxy, each stopped with
SIGTERM and started again in turn while clients read and write through the proxy. No request fails
(the clients themselves never retry), and no write is stored twice."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from support.app import TEST_JWT_SECRET
from support.client_threads import ClientThreads
from support.haproxy import HAProxy
from support.live_server import start_server

pytestmark = pytest.mark.slow

CLIENTS = 4


def outcome(answer: requests.Response) -> object:
    """200, or the status with the start of the body (whose answer it was: HAProxy's or the service's)."""
    return 200 if answer.status_code == 200 else (answer.status_code, answer.text[:120])


class Load(ClientThreads):
    """CLIENTS threads through the proxy: a page of cars, then a new inquiry with its Idempotency-Key."""

    def __init__(self, url: str, headers: dict, car_id: int):
        super().__init__(CLIENTS, self._run)
        self.url, self.headers, self.car_id = url, headers, car_id
        self.results: list[tuple[str, object]] = []  # (kind, status or exception)
        self.created: list[int] = []

    def _run(self, client: int) -> None:
        session, sequence = requests.Session(), 0
        while not self.stop.is_set():
            sequence += 1
            try:
                listed = session.get(f"{self.url}/api/cars?limit=20", timeout=30)  # whole lists: a lane limit
                self.results.append(("read", outcome(listed)))
                written = session.post(f"{self.url}/api/inquiries", timeout=30,
                                       headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
                                       json={"carId": self.car_id, "message": f"client {client} #{sequence}",
                                             "type": "general", "requestedDate": ""})
                self.results.append(("write", outcome(written)))
                if written.status_code == 200:
                    self.created.append(written.json()["id"])
            except requests.RequestException as error:
                self.results.append(("error", repr(error)))


def test_a_rolling_restart_of_two_instances_behind_haproxy_fails_no_request(database_url, factory, sql, tmp_path):
    seller, buyer = factory.user("seller"), factory.user("user")
    car = factory.car(seller, status="available")
    servers = [start_server(database_url, tmp_path, workers=1, threads=4, jwt_secret=TEST_JWT_SECRET)
               for _ in range(2)]
    proxy = HAProxy([server.port for server in servers]).start()
    stop_seconds = []
    try:
        with Load(proxy.url, factory.headers(buyer), car["id"]) as load:
            time.sleep(0.5)
            for index, old in enumerate(list(servers)):
                marked_up = proxy.times_up(index)
                started = time.monotonic()
                old.stop()  # SIGTERM; returns once the server has exited
                stop_seconds.append(time.monotonic() - started)
                servers[index] = start_server(database_url, tmp_path, workers=1, threads=4,
                                              jwt_secret=TEST_JWT_SECRET, port=old.port)
                proxy.wait_until_up_again(index, marked_up)  # what an operator's script waits for too
        failed = [result for result in load.results if result[1] != 200]  # (kind, status or error)
        assert failed == [], (failed[:10], proxy_log(proxy))
        assert len(load.results) > 50
        stored = sql.execute("SELECT count(*) AS n FROM inquiries").fetchone()["n"]
        assert stored == len(load.created) == len(set(load.created))
        print(f"\nROLLING RESTART: {len(load.results)} requests, none failed; SIGTERM to exit "
              f"{', '.join(f'{s:.2f}' for s in stop_seconds)} s")
    finally:
        proxy.stop()
        for server in servers:
            server.stop()


def proxy_log(proxy: HAProxy) -> str:
    path = proxy.base / "haproxy.log"
    return path.read_text()[-2000:] if path.exists() else ""
