"""Read replicas (DATABASE_REPLICA_URL), against a real private primary and streaming replica.

The module builds its own pair once (tests/support/replica.py: initdb, pg_basebackup -R, free
ports, a temporary directory, as the `postgres` user) and points the whole module at it: the
`database_url`, `app` and `live_server` fixtures below replace conftest's, so the contract tests
imported at the bottom (the schemathesis run over every operation) also run with the replica
configured. Proven here:

- anonymous list reads are served by the replica (its pg_stat_database.xact_commit grows);
- a signed-in user's write is visible to that user at once on the routes that read from replicas
  (without read-your-writes, a read right after a commit was stale in 50 of 50 tries);
- a replica lagging past DB_REPLICA_MAX_LAG_SECONDS is skipped and GET /api/admin/health says so;
- stopping the replica in the middle of a load fails no request, and it is used again once back.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from support.app import TEST_JWT_SECRET, app_config
from support.live_server import start_server
from support.replica import client_backends, commits, private_primary_fixtures

from cms import create_app

pytestmark = pytest.mark.slow

MAX_LAG_SECONDS = 1.0


pair, database_url = private_primary_fixtures()


@pytest.fixture(scope="module")
def app(pair):
    application = create_app(app_config(pair.primary.url(), database_replica_urls=(pair.replica.url(),),
                                        replica_max_lag_seconds=MAX_LAG_SECONDS))
    yield application
    application.extensions["cms.pool"].close()
    application.extensions["cms.replicas"].close()


@pytest.fixture(scope="module")
def live_server(pair, tmp_path_factory):
    server = start_server(pair.primary.url(), tmp_path_factory.mktemp("live-replica"), jwt_secret=TEST_JWT_SECRET,
                          extra_env={"DATABASE_REPLICA_URL": pair.replica.url(),
                                     "DB_REPLICA_MAX_LAG_SECONDS": str(MAX_LAG_SECONDS)})
    yield server
    server.stop()


@pytest.fixture
def replica_running(pair, app):
    """The replica up and caught up before the test (a test may stop or pause it)."""
    pair.start_replica()
    with psycopg.connect(pair.replica.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    pair.wait_for_streaming()
    pair.wait_for_replay()
    app.extensions["cms.replicas"].report(max_age=0)
    yield pair
    pair.start_replica()


def commits_on_replica(pair, app) -> int:
    """The replica's xact_commit once this app's replica connections have reported theirs: a backend
    reports its statistics when it ends (while idle, only every ~10 s), so the pool is drained first."""
    app.extensions["cms.replicas"].replicas[0].pool.drain()
    deadline = time.monotonic() + 10
    while client_backends(pair.replica) and time.monotonic() < deadline:
        time.sleep(0.05)
    return commits(pair.replica)


def health(client, factory) -> dict:
    """GET /api/admin/health as an admin (where each replica's state and lag are reported)."""
    return client.get("/api/admin/health", headers=factory.headers(factory.user("admin"))).get_json()


def wait_for_states(client, factory, wanted: list[str], timeout: float = 10.0) -> list[str]:
    """The replicas' states once they are `wanted` (the health route re-checks a replica once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        states = [replica["state"] for replica in health(client, factory)["replicas"]]
        if states == wanted or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


# --- routing ---------------------------------------------------------------------------------------


def test_anonymous_list_and_detail_reads_are_served_by_the_replica(client, factory, replica_running):
    seller = factory.user("seller")
    car = factory.car(seller)
    replica_running.wait_for_replay()
    before = commits_on_replica(replica_running, client.application)

    for _ in range(10):
        assert client.get("/api/cars?limit=20").status_code == 200
        assert client.get(f"/api/cars/{car['id']}").status_code == 200
        assert client.get(f"/api/reviews/car/{car['id']}").status_code == 200

    # 30 reads, each at least one transaction there (plus a status check now and then).
    assert commits_on_replica(replica_running, client.application) - before >= 30


def test_writes_and_a_users_own_data_never_touch_the_replica(client, factory, replica_running):
    buyer = factory.user("user")
    car = factory.car(factory.user("seller"))
    headers = factory.headers(buyer)
    replica_running.wait_for_replay()
    before = commits_on_replica(replica_running, client.application)

    for _ in range(10):
        assert client.post("/api/favorites/toggle", json={"carId": car["id"]}, headers=headers).status_code == 200
        assert client.get("/api/favorites", headers=headers).status_code == 200

    # 20 requests, none of them there: only stray statistics of the fixture's status checks, which a
    # backend reports as it ends, may still land in this window.
    assert commits_on_replica(replica_running, client.application) - before <= 3


def test_a_signed_in_users_write_is_visible_to_them_at_once_on_replica_routes(client, factory, replica_running):
    seller = factory.user("seller")
    buyer = factory.user("user")
    cars = [factory.car(seller, price=20000) for _ in range(10)]
    seller_headers, buyer_headers = factory.headers(seller), factory.headers(buyer)
    replica_running.wait_for_replay()

    for round_number, car in enumerate(cars, start=1):
        price = 30000 + round_number
        edited = client.put(f"/api/cars/{car['id']}", json={"price": price}, headers=seller_headers)
        assert edited.status_code == 200
        assert client.get(f"/api/cars/{car['id']}", headers=seller_headers).get_json()["price"] == price

        comment = f"Review {round_number}"
        posted = client.post("/api/reviews", json={"carId": car["id"], "rating": 5, "comment": comment},
                             headers=buyer_headers)
        assert posted.status_code in (200, 201)
        reviews = client.get(f"/api/reviews/car/{car['id']}", headers=buyer_headers).get_json()
        assert comment in [review["comment"] for review in reviews]


def test_a_replica_lagging_past_the_limit_is_skipped_and_the_health_route_reports_it(client, factory,
                                                                                     replica_running):
    seller = factory.user("seller")
    replica_running.wait_for_replay()
    with psycopg.connect(replica_running.replica.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        car = factory.car(seller, title="Written while the replica is paused")
        time.sleep(MAX_LAG_SECONDS + 0.5)

        # An anonymous reader sees the new car: the read went to the primary.
        titles = [item["title"] for item in client.get("/api/cars").get_json()]
        assert car["title"] in titles
        replicas = health(client, factory)["replicas"]
        assert [replica["state"] for replica in replicas] == ["lagging"]
        assert replicas[0]["lagSeconds"] > MAX_LAG_SECONDS
        conn.execute("SELECT pg_wal_replay_resume()")
    replica_running.wait_for_replay()
    assert wait_for_states(client, factory, ["ok"]) == ["ok"]


# --- a replica that goes away --------------------------------------------------------------------


def test_stopping_the_replica_under_load_fails_no_request(live_server, factory, replica_running):
    seller = factory.user("seller")
    cars = [factory.car(seller) for _ in range(5)]
    replica_running.wait_for_replay()
    paths = ["/api/cars?limit=20", "/api/cars", *(f"/api/cars/{car['id']}" for car in cars),
             *(f"/api/reviews/car/{car['id']}" for car in cars)]
    stop = threading.Event()
    answers: list[int] = []

    def load(offset: int) -> None:
        with requests.Session() as session:
            index = offset
            while not stop.is_set():
                response = session.get(f"{live_server.url}{paths[index % len(paths)]}", timeout=20)
                answers.append(response.status_code)
                index += 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(load, offset) for offset in range(6)]
        time.sleep(1.0)
        served_before_stop = len(answers)
        replica_running.replica.stop("fast")
        time.sleep(2.0)
        stop.set()
        for future in futures:
            future.result()

    assert served_before_stop > 0
    assert len(answers) > served_before_stop
    assert [status for status in answers if status != 200] == []
    details = requests.get(f"{live_server.url}/api/admin/health", headers=factory.headers(factory.user("admin")),
                           timeout=10).json()
    assert [replica["state"] for replica in details["replicas"]] == ["down"]

    # Back again: the service uses it without a restart.
    replica_running.start_replica()
    replica_running.wait_for_replay()
    deadline = time.monotonic() + 10
    before = commits(replica_running.replica)
    while commits(replica_running.replica) - before < 5 and time.monotonic() < deadline:
        requests.get(f"{live_server.url}/api/cars?limit=5", timeout=10).raise_for_status()
    assert commits(replica_running.replica) - before >= 5


# --- the contract, with the replica configured ------------------------------------------------------

from test_fuzz import http, test_no_operation_answers_5xx_or_a_non_json_error, world  # noqa: E402, F401
