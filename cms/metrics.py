"""The service's Prometheus metrics (prometheus-client), right across the server's worker processes.

Each worker counts in its own files under PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode); GET /metrics, answered by whichever worker, adds up every worker's files.
The server's main process gives each run a directory of its own before any worker starts
(prepare_multiprocess_dir: the operator's PROMETHEUS_MULTIPROC_DIR emptied, or a new temporary one
removed at exit) and marks a dead worker's gauges dead (its pool figures leave the sums; its
counts stay, as a counter must). Without the variable (Flask's test client, another WSGI server)
the process counts alone.

prometheus-client picks its file-backed values when it is first imported, from the environment at
that moment: the main process sets the variable before anything imports it, which is why the
import happens in `metrics()`, not at the top of this module.

What is measured:
- cms_http_requests_total{method,route,status}: answers by route template (`/api/cars/<id:car_id>`,
  `unmatched` for a path no route has), not by raw path, so that ids do not multiply the series;
- cms_http_request_duration_seconds{method,route}: from the request's arrival to its last byte sent;
- cms_db_pool_size, cms_db_pool_in_use, cms_db_pool_waiting: each worker's pool, summed over the
  living workers (sampled every POOL_SAMPLE_SECONDS, and by the worker answering the scrape);
- cms_database_errors_total{kind}: pool_timeout, unavailable, statement_timeout;
- cms_outbox_backlog: notifications waiting to be sent (one query per scrape).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile
import threading
from collections.abc import Callable

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the 100 ms to 2.5 s range holds most pages, streamed whole lists reach the upper ones.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
POOL_SAMPLE_SECONDS = 1.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_metrics: Metrics | None = None
_metrics_lock = threading.Lock()


class Metrics:
    """The metric objects of this process (one instance: metrics())."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()  # this process's own, when not in multiprocess mode
        self.requests = Counter("cms_http_requests", "HTTP answers by route template and status",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("cms_http_request_duration_seconds",
                                 "Time from a request's arrival to the last byte of its answer",
                                 ("method", "route"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.pool_size = Gauge("cms_db_pool_size", "Connections open in the pools",
                               registry=self.registry, multiprocess_mode="livesum")
        self.pool_in_use = Gauge("cms_db_pool_in_use", "Connections lent to requests",
                                 registry=self.registry, multiprocess_mode="livesum")
        self.pool_waiting = Gauge("cms_db_pool_waiting", "Requests waiting for a connection",
                                  registry=self.registry, multiprocess_mode="livesum")
        self.database_errors = Counter("cms_database_errors", "Requests failed by the database, by kind",
                                       ("kind",), registry=self.registry)
        self._children: dict[tuple, tuple] = {}  # (method, route, status) -> (counter, histogram)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # .labels() takes a lock and builds the key each time: asked once
            label = method if method in METHODS else "other"
            children = self._children.setdefault(key, (self.requests.labels(label, route, str(status)),
                                                       self.latency.labels(label, route)))
        children[0].inc()
        children[1].observe(seconds)

    def set_pool(self, size: int, in_use: int, waiting: int) -> None:
        self.pool_size.set(size)
        self.pool_in_use.set(in_use)
        self.pool_waiting.set(waiting)


def metrics() -> Metrics:
    """This process's metrics, created on first use (see the module docstring)."""
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = Metrics()
    return _metrics


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR))


def exposition(extra: Callable[[], list] | None = None) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: every worker's figures (or this process's),
    plus the metric families `extra()` gives (read at scrape time, e.g. the outbox backlog)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
    from prometheus_client.multiprocess import MultiProcessCollector

    current = metrics()
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = current.registry
    if extra is not None:
        registry = _WithExtra(registry, extra)
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


class _WithExtra:
    """A registry's metrics followed by those read now (generate_latest takes anything with collect())."""

    def __init__(self, registry, extra):
        self.registry, self.extra = registry, extra

    def collect(self):
        yield from self.registry.collect()
        yield from self.extra()


def gauge(name: str, documentation: str, value: float):
    """A metric family of one value, for exposition's `extra`."""
    from prometheus_client.core import GaugeMetricFamily

    return GaugeMetricFamily(name, documentation, value=value)


def start_pool_sampler(sample: Callable[[], tuple[int, int, int]]) -> threading.Event | None:
    """In multiprocess mode, a daemon thread that writes this worker's pool figures (size, in use,
    waiting) every POOL_SAMPLE_SECONDS: a scrape is answered by one worker and cannot ask the
    others. Returns the event that stops it (None: not in multiprocess mode, nothing started)."""
    if not multiprocess():
        return None
    stop = threading.Event()

    def run():
        while not stop.wait(POOL_SAMPLE_SECONDS):
            try:
                metrics().set_pool(*sample())
            except Exception:  # noqa: BLE001 - a closed pool at shutdown: stop sampling
                return

    threading.Thread(target=run, name="cms-pool-metrics", daemon=True).start()
    return stop


def prepare_multiprocess_dir() -> str:
    """In the server's main process, before any worker: the directory of this run's metric files
    (PROMETHEUS_MULTIPROC_DIR emptied of old files, or a new temporary directory removed at exit),
    set in the environment the workers inherit."""
    path = os.environ.get(MULTIPROCESS_DIR)
    if path:
        os.makedirs(path, exist_ok=True)
        for old in glob.glob(os.path.join(path, "*.db")):  # a previous run's workers
            os.remove(old)
    else:
        remove_orphaned_dirs()
        path = tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-")
        owner = os.getpid()
        # Only by this process: a forked worker runs atexit handlers too, and must not remove it.
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
        os.environ[MULTIPROCESS_DIR] = path
    return path


TEMPORARY_PREFIX = "cms-metrics-"


def remove_orphaned_dirs(parent: str | None = None) -> list[str]:
    """Remove the temporary metric directories of servers that are gone (killed, so their exit
    handler never ran): those of this user whose name's process id no longer runs. Returns them."""
    removed = []
    for path in glob.glob(os.path.join(parent or tempfile.gettempdir(), f"{TEMPORARY_PREFIX}*-*")):
        pid_text = os.path.basename(path)[len(TEMPORARY_PREFIX):].split("-", 1)[0]
        try:
            if not pid_text.isdigit() or os.stat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except OSError:  # gone meanwhile, or another user's process: not ours to judge
            continue
    return removed


def mark_process_dead(pid: int) -> None:
    """A worker died: its live gauges leave the sums (its counters stay)."""
    if multiprocess():
        from prometheus_client import multiprocess as prometheus_multiprocess

        prometheus_multiprocess.mark_process_dead(pid)
