"""What an operator reads: JSON log lines with true durations, Prometheus metrics summed over the
server's workers, and the browsable API docs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import warnings

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.app import TEST_JWT_SECRET
from support.live_server import start_server

from cms import metrics
from cms.api.metrics import may_read_metrics
from cms.asgi import WsgiOverAsgi
from cms.logging_setup import EscapingFormatter, JsonFormatter, configure_logging
from cms.services import cars as cars_service

DURATION = re.compile(r"duration_ms=([\d.]+)")


def _request_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "cms.request"]


# --- logs ------------------------------------------------------------------------------------------

def test_a_request_record_as_json_is_one_line_with_every_field(client, factory, caplog, monkeypatch):
    monkeypatch.setattr("cms.logging_setup._format", "json")  # the fields are gathered for JSON only
    caplog.set_level(logging.INFO)
    user = factory.user("user")
    response = client.get("/api/users/profile?x=1%0a2", headers=factory.headers(user))
    [record] = _request_records(caplog)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert {"time", "level", "logger", "message", "pid"} <= set(entry)
    assert entry["level"] == "INFO" and entry["logger"] == "cms.request"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert (entry["method"], entry["path"], entry["query"], entry["status"]) == (
        "GET", "/api/users/profile", "x=1%0a2", 200)
    assert entry["route"] == "/api/users/profile"
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert entry["user_id"] == user["id"]
    assert entry["client"] == "127.0.0.1"
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0


def test_a_multi_line_message_and_a_traceback_are_one_json_line_and_escaped_text():
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        record = logging.getLogger("psycopg").makeRecord(
            "psycopg", logging.WARNING, __file__, 1, "notice: %s", ("line one\nline two",), None)
        failed = logging.getLogger("cms.test").makeRecord(
            "cms.test", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info())
    assert EscapingFormatter().format(record) == "notice: line one\\nline two"
    for item in (record, failed):
        line = JsonFormatter().format(item)
        assert "\n" not in line
        json.loads(line)
    assert "ValueError: first\nsecond" in json.loads(JsonFormatter().format(failed))["exc"]


def test_library_noise_is_at_warning_and_python_warnings_are_records():
    configure_logging("INFO")
    assert logging.getLogger("pyvips").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("psycopg").getEffectiveLevel() >= logging.WARNING
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_cms", False)]
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        logging.getLogger("pyvips").info("vips cache: 7 lines of this per upload")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(False)  # pytest put its own recorder in place for this test:
            logging.captureWarnings(True)  # route warnings to logging again, until the block ends
            warnings.warn("a deprecation\nspread over lines", DeprecationWarning, stacklevel=1)
            logging.captureWarnings(False)
    finally:
        handler.setStream(previous)
    [line] = written.getvalue().splitlines()
    assert " WARNING py.warnings " in line and "a deprecation\\nspread over lines" in line


def test_a_streamed_list_is_logged_with_the_time_its_slow_reader_took(app, factory, caplog, monkeypatch):
    """The front (cms/asgi.py) writes the log line after the last byte: with a client that takes
    each piece slowly, the logged duration covers the whole read (it was Flask's time before)."""
    monkeypatch.setattr(cars_service, "STREAM_BATCH_ROWS", 2)  # 7 cars: a stream of 4 batches
    seller = factory.user("seller")
    for _ in range(7):
        factory.car(seller)
    caplog.set_level(logging.INFO)
    sends = []

    async def slow_reader(message):
        if message["type"] == "http.response.body":
            sends.append(time.perf_counter())
            await asyncio.sleep(0.1)
            sends.append(time.perf_counter())

    async def stays():
        await asyncio.sleep(3600)

    scope = {"type": "http", "method": "GET", "path": "/api/cars", "raw_path": b"/api/cars", "query_string": b"",
             "root_path": "", "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 50000), "headers": [(b"host", b"localhost"), (b"accept-encoding", b"identity")]}
    front = WsgiOverAsgi(app.wsgi_app, threads=2, max_request_bytes=1000)
    try:
        asyncio.run(asyncio.wait_for(front(scope, stays, slow_reader), 20))
    finally:
        front.threads.shutdown(wait=True)
    [record] = _request_records(caplog)
    read_ms = (sends[-1] - sends[0]) * 1000
    assert len(sends) >= 8 and read_ms >= 350
    assert float(DURATION.search(record.getMessage())[1]) >= read_ms


# --- metrics: who may read them -----------------------------------------------------------------------

@pytest.mark.parametrize(("address", "allowed"), [
    ("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("10.1.2.3", True),
    ("10.1.2.3.4", False), ("192.168.1.5", False), ("", False), (None, False),
])
def test_metrics_are_for_the_allowed_addresses_only(address, allowed):
    assert may_read_metrics(address, ("127.0.0.1", "::1", "10.0.0.0/8")) is allowed


def test_metrics_are_a_404_for_other_addresses(client):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert refused.status_code == 404 and refused.get_json() == {"error": "Not found"}


# --- API docs -----------------------------------------------------------------------------------------

def test_api_docs_are_swagger_ui_over_the_document_with_local_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css"} <= set(assets)
    assert not [url for url in assets if "//" in url]  # nothing from another site
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.get_data()) > 100, url
        asset.close()


def test_the_document_names_its_server_and_the_headers_of_its_answers(client, app):
    document = client.get("/api/openapi.json").get_json()
    assert document["servers"] == [{"url": app.config["CMS_SETTINGS"].public_base_url or "/"}]
    listing = document["paths"]["/api/cars"]["get"]["responses"]["200"]["headers"]
    assert {"X-Request-Id", "X-Total-Count", "X-Total-Count-Capped", "Link"} <= set(listing)
    assert "X-Request-Id" in document["components"]["responses"]["Error404"]["headers"]
    assert "X-Request-Id" in document["components"]["headers"]


# --- the real server: JSON lines, metrics over two workers, a 503 after the pool wait --------------------

@pytest.fixture(scope="module")
def json_server(database_url, tmp_path_factory):
    server = start_server(database_url, tmp_path_factory.mktemp("observability"), workers=2, threads=4,
                          jwt_secret=TEST_JWT_SECRET,
                          extra_env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "DB_POOL_MAX": "2",
                                     "DB_POOL_TIMEOUT": "1"})
    server.wait_for_workers(2)
    yield server
    server.stop()


def _log_entries(server) -> list[dict]:
    return [json.loads(line) for line in server.log().splitlines() if line.strip()]


def _samples(text: str) -> dict:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _requests_counted(samples: dict, route: str, status: str) -> float:
    return sum(value for (name, labels), value in samples.items() if name == "cms_http_requests_total"
               and dict(labels).get("route") == route and dict(labels).get("status") == status)


@pytest.mark.slow
def test_the_real_server_logs_json_and_sums_its_workers_metrics(json_server, factory):
    seller = factory.user("seller")
    car = factory.car(seller)
    before = _samples(requests.get(f"{json_server.url}/metrics", timeout=10).text)
    for _ in range(12):  # a new connection each: the kernel spreads them over both workers
        assert requests.get(f"{json_server.url}/api/cars/{car['id']}", timeout=10).status_code == 200
        assert requests.get(f"{json_server.url}/api/cars?limit=2", timeout=10).status_code == 200
    assert requests.get(f"{json_server.url}/api/cars/999999", timeout=10).status_code == 404
    after = _samples(requests.get(f"{json_server.url}/metrics", timeout=10).text)

    detail = "/api/cars/<id:car_id>"
    assert _requests_counted(after, detail, "200") - _requests_counted(before, detail, "200") == 12
    assert _requests_counted(after, "/api/cars", "200") - _requests_counted(before, "/api/cars", "200") == 12
    assert _requests_counted(after, detail, "404") - _requests_counted(before, detail, "404") == 1
    latency = [value for (name, labels), value in after.items()
               if name == "cms_http_request_duration_seconds_count" and dict(labels)["route"] == "/api/cars"]
    assert sum(latency) >= 12
    assert after[("cms_db_pool_size", ())] >= 1 and ("cms_outbox_backlog", ()) in after

    entries = _log_entries(json_server)  # every line parses, granian's and the start-up's too
    served = [e for e in entries if e["logger"] == "cms.request" and e["path"] == f"/api/cars/{car['id']}"]
    assert len(served) == 12 and {e["status"] for e in served} == {200}
    assert len({e["pid"] for e in entries if e["logger"] == "cms.request"}) == 2, "both workers answered"
    assert all({"method", "query", "route", "duration_ms", "request_id", "user_id", "client"} <= set(e)
               for e in served)
    telegram = [e for e in entries if "Telegram notifications are disabled" in e["message"]]
    assert len(telegram) == 1, "a start-up warning is said once, by the main process"


@pytest.mark.slow
def test_a_503_after_the_pool_wait_is_logged_with_its_true_duration(json_server, factory, database_url):
    seller = factory.user("seller")
    car = factory.car(seller)
    statuses: list[int] = []

    def ask():
        statuses.append(requests.get(f"{json_server.url}/api/cars/{car['id']}", timeout=20).status_code)

    with psycopg.connect(database_url) as conn:
        conn.execute("LOCK TABLE cars IN ACCESS EXCLUSIVE MODE")  # two answers per worker hold the pool
        clients = [threading.Thread(target=ask) for _ in range(12)]
        for thread in clients:
            thread.start()
        time.sleep(2.5)
        conn.rollback()
    for thread in clients:
        thread.join(timeout=20)
    assert 503 in statuses and 200 in statuses

    waited = [e for e in _log_entries(json_server)
              if e["logger"] == "cms.request" and e["path"] == f"/api/cars/{car['id']}" and e["status"] == 503]
    assert len(waited) == statuses.count(503)
    assert all(e["duration_ms"] >= 1000 for e in waited), [e["duration_ms"] for e in waited]
    metrics = _samples(requests.get(f"{json_server.url}/metrics", timeout=10).text)
    assert metrics[("cms_database_errors_total", (("kind", "pool_timeout"),))] >= len(waited)


def test_each_server_run_starts_from_an_empty_metrics_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.MULTIPROCESS_DIR, str(tmp_path))
    (tmp_path / "counter_4242.db").write_bytes(b"old run")
    (tmp_path / "gauge_livesum_4343.db").write_bytes(b"old run")
    assert metrics.prepare_multiprocess_dir() == str(tmp_path)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "gauge_livesum_4444.db").write_bytes(b"a worker that died")
    (tmp_path / "counter_4444.db").write_bytes(b"its counts stay")
    metrics.mark_process_dead(4444)
    assert [path.name for path in tmp_path.iterdir()] == ["counter_4444.db"]


def test_a_killed_servers_metrics_directory_is_removed_by_the_next_server(tmp_path):
    # A server killed with SIGKILL never runs its exit handler; the next one cleans up after it.
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = int(finished.stdout)
    orphan = tmp_path / f"{metrics.TEMPORARY_PREFIX}{gone_pid}-abc"
    alive = tmp_path / f"{metrics.TEMPORARY_PREFIX}{os.getpid()}-def"
    unrelated = tmp_path / f"{metrics.TEMPORARY_PREFIX}notapid"
    for path in (orphan, alive, unrelated):
        path.mkdir()
        (path / "counter_1.db").write_bytes(b"x")

    assert metrics.remove_orphaned_dirs(str(tmp_path)) == [str(orphan)]
    assert not orphan.exists() and alive.exists() and unrelated.exists()
