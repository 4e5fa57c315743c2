"""When no host accepts writes, a request is a 503 with Retry-After at once, not after the pool's
timeout; as soon as a primary accepts again, the pool reconnects by itself.

A private primary and streaming replica (tests/support/replica.py) behind one multi-host URL with
target_session_attrs=read-write, as a failover setup gives it: with the primary stopped, the only
host left is read-only, so every connection attempt is refused.
"""

from __future__ import annotations

import time

import pytest
from support.app import app_config
from support.replica import private_primary_fixtures

from cms import create_app

POOL_TIMEOUT = 20.0  # far above what an answer may take here: a 503 must not wait for it


pair, database_url = private_primary_fixtures()


@pytest.fixture
def failover_app(pair):
    url = (f"postgresql://postgres@127.0.0.1:{pair.primary.port},127.0.0.1:{pair.replica.port}/cms"
           "?target_session_attrs=read-write")
    application = create_app(app_config(url, pool_timeout=POOL_TIMEOUT, pool_min_size=2))
    yield application
    application.extensions["cms.pool"].close()
    if not pair.primary.is_running():
        pair.primary.start()


def test_with_only_a_read_only_host_left_requests_are_503_at_once_and_come_back_with_the_primary(
        failover_app, pair):
    client = failover_app.test_client()
    assert client.get("/api/cars").status_code == 200

    pair.primary.stop("immediate")
    answers = []
    for _ in range(5):
        started = time.monotonic()
        answer = client.get("/api/cars")
        answers.append((answer.status_code, answer.headers.get("Retry-After"), time.monotonic() - started))
    assert {(status, retry) for status, retry, _ in answers} == {(503, "1")}, answers
    assert max(took for _, _, took in answers) < POOL_TIMEOUT / 4, answers  # not the pool's wait

    pair.primary.start()
    deadline = time.monotonic() + 10
    while client.get("/api/cars").status_code != 200:
        assert time.monotonic() < deadline, "the pool did not reconnect to the primary"
        time.sleep(0.1)
    assert failover_app.extensions["cms.pool"].unreachable is None
