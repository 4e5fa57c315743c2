"""How the service is served: granian (`python -m cms.server`), through its ASGI interface.

Why granian: its Rust HTTP layer reads and buffers each request's headers, so slow or silent
connections cost sockets, not Python threads. A connection has HEADER_READ_TIMEOUT_MS to deliver
a request's headers, whether it is new or idle between keep-alive requests; then granian closes
it. Why ASGI: the request body and the answer are handled by each worker's event loop
(cms/asgi.py), so that a client sending its body slowly, or never reading the answer, holds no
thread either; Flask runs on a thread pool for complete requests. The measurements are in the
docs/serving.md.

What CmsServer changes in granian's process manager (granian.server.MPServer, 2.8.9), so that
workers die and come back the way they did under gunicorn's master:

- **A listening socket per worker slot, held by the main process.** On Linux granian lets every
  worker bind its own SO_REUSEPORT socket once it has loaded the app. A killed worker's socket
  closes with it (the connections waiting in its queue are reset), and while every worker is dead
  or still booting nothing listens at all: connections are refused. That, not only the crash-loop
  rule below, is what failed tests/test_faults.py under granian. Here the main process binds one
  SO_REUSEPORT socket per worker slot and keeps it for the server's life; the worker of slot k
  (and each replacement) accepts from socket k. The kernel spreads new connections over the slots
  (by hash of their addresses), and a slot whose worker is being replaced keeps its queue: those
  connections wait about a second instead of being reset. (One socket shared by every worker would
  keep queues too, but each worker's Rust layer accepts until the queue is empty, so a burst of
  connections all landed in one worker: `wrk -c16` ran on one of three workers, at a third of the
  throughput.)
- **Its own crash-loop rule.** granian exits ("Worker crash loop detected") when a worker dies
  within 5.5 s of its own respawn, whatever killed it: two `kill -9` (or OOM kills) in a row took
  the service down. CmsServer tells a worker that cannot boot from one that was killed:
  - a worker that exits by itself before it has loaded the app failed to boot (cms.wsgi exits 3
    when the settings or the database refuse it, an import error exits 1): the server stops at
    once with status 3 and one line naming it, after the worker's own `cannot start` line;
  - a worker killed by a signal before it has loaded the app is respawned; MAX_UNREADY_DEATHS in
    a row (no worker becoming ready meanwhile) stop the server the same way (a crash at import);
  - a worker that dies after it has loaded the app (kill -9, the OOM killer, a crash) is replaced
    at once, however often, like gunicorn does.
  A worker reports "loaded" by writing its PID into a pipe the main process reads.
- **A booting worker obeys SIGTERM.** A new worker would inherit the main process's signal handlers
  until granian installs its own after the app is loaded; right after the fork it takes SIGTERM's
  and SIGINT's defaults instead, so a shutdown during a respawn does not wait WORKERS_KILL_TIMEOUT
  for it.
- **A stop signal cannot deadlock the main thread.** granian wakes its main loop with a
  threading.Event that both its worker-watching threads and the SIGTERM/SIGINT handler set. Python
  runs a signal handler in the main thread between two bytecodes, and Event.set() takes the
  Event's lock: when the signal arrived while the main thread held that lock (inside Event.wait()
  or clear(), just woken by a worker's death), the handler waited for a lock its own thread held,
  for ever. That is what a SIGTERM to the process group does: the workers exit at once, their
  watchers wake the main thread, and the main thread's handler runs in that window. The server
  was left with no workers, its listening sockets open, and "Unexpected exit from worker-N" as its
  last lines. Here the loop waits on a pipe instead (`Wakeup`): waking it is one non-blocking write,
  with no lock, and the signal module's wake-up descriptor is that pipe, so a stop signal wakes
  the main thread whichever thread the kernel delivered it to.
- **A stop is a stop.** Once SIGTERM or SIGINT has arrived the main loop respawns nothing; workers
  that exit meanwhile (the signal reached them too) are part of the stop, not a failure, and the
  server exits 0.

The cost of a socket per slot: the kernel's spread is by hash, not by load (a slot may get a few
more connections than another), and the connections of a slot whose worker died wait for its
replacement. granian's `backpressure` is left at its default: it limits connections per worker,
not requests, so a low value would let idle clients block the service again.

**Written for granian GRANIAN_VERSION only.** CmsServer overrides private methods of MPServer and
reads its private attributes; another granian may rename them or change what they do. The server
refuses to start with any other version (one line naming the expected one), and
tests/test_server_version.py holds that version to setup.cfg's pin. What would let this class go is
in docs/decisions.md ("CmsServer rests on granian's internals").

Settings, the listening address and the database are checked once before any worker starts
(check_can_start): a bad start is one clear line and status 1, as under gunicorn's `on_starting`.
A port that any other process listens on is refused (check_address_free): the slots' SO_REUSEPORT
would otherwise let a second server (or any program that sets it) share the port with this one,
and the kernel would spread connections over both.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.metadata
import multiprocessing
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable
from functools import partial
from typing import NoReturn

from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.log import logger as log
from granian.net import SocketSpec
from granian.server import MPServer

from cms import metrics
from cms.asgi import SEND_STALL_TIMEOUT, WsgiOverAsgi
from cms.config import Settings
from cms.logging_setup import configure_logging, startup_said_by_main_process

TARGET = "cms.wsgi:app"
# The granian whose private process manager CmsServer was written against (setup.cfg pins it).
GRANIAN_VERSION = "2.8.9"
# A connection has this long to send a request's headers, also when silent from the start, half
# sent or idle between keep-alive requests; granian then closes it without an answer.
HEADER_READ_TIMEOUT_MS = 10_000
# Seconds a worker has to finish its requests on shutdown before it is killed (gunicorn: 20).
WORKERS_KILL_TIMEOUT = 20
# Workers killed in a row before any worker became ready: the server gives up.
MAX_UNREADY_DEATHS = 10
# Seconds after the app has given up on a client that takes nothing that the kernel drops its connection.
KERNEL_MARGIN_SECONDS = 10
# Exit status of the server when a worker cannot boot (gunicorn's WORKER_BOOT_ERROR).
BOOT_FAILURE = 3
# granian's own lines in the service's log format and escaping (cms/logging_setup.py), on stderr.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"cms": {"()": "cms.logging_setup.granian_formatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "cms", "stream": "ext://sys.stderr"}},
    "loggers": {"_granian": {"handlers": ["stderr"], "propagate": False}},
}
_PID = struct.Struct("=i")  # one ready report; smaller than PIPE_BUF, so written atomically


class Wakeup:
    """What wakes the main loop: a pipe. set() is one non-blocking write and takes no lock, so a
    signal handler may call it at any point of the main thread (threading.Event.set() may not:
    see the module docstring). The same pipe is the signal module's wake-up descriptor."""

    def __init__(self):
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self) -> None:
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:  # the pipe is full: a wake-up is pending already
            pass

    def is_set(self) -> bool:
        return bool(select.select([self._read], [], [], 0)[0])

    def wait(self, timeout: float | None = None) -> bool:
        # Interrupted by a signal, select runs the handler (which writes here) and waits again (PEP 475).
        return bool(select.select([self._read], [], [], timeout)[0])

    def clear(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass

    def install_as_signal_wakeup(self) -> None:
        """Main thread only: a signal delivered to any thread of the process writes here too."""
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def forget_in_child(self) -> None:
        """In a forked worker: the main process's pipe and wake-up descriptor are not the worker's."""
        signal.set_wakeup_fd(-1)
        os.close(self._read)
        os.close(self._write)


def _load_app(ready_fd: int, threads: int, target: str) -> WsgiOverAsgi:
    """In a new worker: load the WSGI app, serve it over ASGI on `threads` threads (with the
    client time limits of its settings, when it is the CMS app), report ready."""
    module_name, _, attribute = target.partition(":")
    with startup_said_by_main_process():  # check_can_start said the warnings of the settings
        wsgi_app = getattr(importlib.import_module(module_name), attribute or "app")
    settings = getattr(wsgi_app, "config", {}).get("CMS_SETTINGS") or Settings()
    app = WsgiOverAsgi(wsgi_app, threads=threads, max_request_bytes=settings.max_request_bytes,
                       body_timeout=settings.request_body_timeout,
                       body_idle_timeout=settings.request_body_idle_timeout,
                       stall_timeout=settings.response_stall_timeout)
    os.write(ready_fd, _PID.pack(os.getpid()))
    return app


class CmsServer(MPServer):
    """granian's multi-process server with a socket per worker slot and gunicorn's respawn rule (see above)."""

    def __init__(self, *args, request_threads: int, stall_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.request_threads, self.stall_timeout = request_threads, stall_timeout
        self.main_loop_interrupt = Wakeup()
        self._ready_read, self._ready_write = os.pipe()
        os.set_blocking(self._ready_read, False)
        self._ready_pids: set[int] = set()
        self._unready_deaths = 0
        self.exit_code = 0

    def serve(self, spawn_target=None, target_loader=None, wrap_loader=True):
        # Workers are forked: they inherit the slot sockets and the ready pipe.
        multiprocessing.set_start_method("fork", force=True)
        os.register_at_fork(after_in_child=self._after_fork_in_worker)
        super().serve(spawn_target, partial(_load_app, self._ready_write, self.request_threads), wrap_loader)

    def _after_fork_in_worker(self) -> None:
        """Right after the fork, before any Python code of the worker: SIGTERM and SIGINT take their
        defaults (a booting worker stops at once; granian installs its own handlers once the app is
        loaded), and the main loop's pipe is closed. Only in a child of the main process: the hook
        is inherited, and in a process a worker forks those descriptor numbers may be others."""
        if os.getppid() != self.pid:
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self.main_loop_interrupt.forget_in_child()

    def signal_handler_interrupt(self, *args, **kwargs):
        """SIGTERM/SIGINT: stop. Plain assignments and a pipe write: nothing here takes a lock."""
        self.interrupt_signal = True
        for worker in self.wrks:  # their exits from now on are the stop's, not failures
            worker.interrupt_by_parent = True
        self.main_loop_interrupt.set()

    def _init_shared_socket(self):
        """Bind one SO_REUSEPORT socket per worker slot in the main process (see above)."""
        self._ssp = None
        self._slots = []
        for _ in range(self.workers):
            try:
                holder = SocketSpec(self.bind_addr, self.bind_port, self.backlog).build()
            except (OSError, ValueError, RuntimeError) as error:  # taken since check_address_free, …
                self._drop_shared_socket()
                # granian's Rust layer appends its stack backtrace to the message: the first line says it.
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                _cannot_start(f"cannot listen on {_address(self.bind_addr, self.bind_port)}: {reason}")
            listener = socket.socket(fileno=holder.get_fd())
            listener.set_inheritable(True)
            # Accepted connections inherit it: the kernel drops a connection whose client has taken
            # nothing of what was sent (or acknowledged nothing) for that long. The app gives up on
            # such a client first (cms/asgi.py, after stall_timeout); only the kernel can take back
            # the socket and the answer's bytes already queued in it. The margin is for a reader
            # that is slow but steady: on loopback (64 KB segments) a small receive window can
            # keep the kernel probing a zero window while bytes still flow.
            user_timeout_ms = int((self.stall_timeout + KERNEL_MARGIN_SECONDS) * 1000)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, user_timeout_ms)
            self._slots.append((holder, listener))

    def _drop_shared_socket(self):
        for _, listener in self._slots:
            listener.close()
        self._slots = []

    def _spawn_worker(self, idx, target, callback_loader):
        # granian hands a worker "the shared socket": for slot idx, that is socket idx.
        self._shd, self._sso = self._slots[idx]
        self._sfd = self._shd.get_fd()
        return super()._spawn_worker(idx, target, callback_loader)

    def _serve(self, spawn_target, target_loader):
        self.startup(spawn_target, target_loader)
        self._serve_loop(spawn_target, target_loader)
        if self.interrupt_signal:
            log.warning("stopping on SIGTERM/SIGINT")
            self.interrupt_children.clear()  # workers that exited with the signal: not a failure
        self.shutdown(self.exit_code)

    def startup(self, spawn_target, target_loader):
        self.main_loop_interrupt.install_as_signal_wakeup()
        super().startup(spawn_target, target_loader)

    def _serve_loop(self, spawn_target, target_loader):
        # granian's loop without its crash-loop exit and without the branches of workers_lifetime
        # and workers_max_rss, which this server does not set.
        while True:
            self.main_loop_interrupt.wait()
            self.main_loop_interrupt.clear()  # before reading: a death after this sets it again
            if self.interrupt_signal:
                return
            dead = list(self.interrupt_children)
            del self.interrupt_children[: len(dead)]
            if dead:
                reason = self._reason_to_stop(dead)
                if reason:
                    log.error("%s; stopping", reason)
                    self.exit_code = BOOT_FAILURE
                    return
                self._respawn_workers(dead, spawn_target, target_loader)
                self._metrics.incr_respawn_err(len(dead))
            if self.reload_signal:  # SIGHUP: granian's graceful reload of every worker
                self._reload(spawn_target, target_loader)

    def _reason_to_stop(self, dead: list[int]) -> str | None:
        """Why these dead workers must end the server (a boot failure), or None to respawn them."""
        self._read_ready_reports()
        for idx in dead:
            worker = self.wrks[idx].inner
            metrics.mark_process_dead(worker.pid)
            if worker.pid in self._ready_pids:
                self._ready_pids.discard(worker.pid)
                log.warning("worker-%d (PID %s) died (%s); respawning", idx + 1, worker.pid, _how(worker.exitcode))
                continue
            if worker.exitcode is not None and worker.exitcode >= 0:
                return f"worker-{idx + 1} failed to boot ({_how(worker.exitcode)})"
            self._unready_deaths += 1
            if self._unready_deaths >= MAX_UNREADY_DEATHS:
                return (f"{self._unready_deaths} workers in a row died before loading the app "
                        f"(last: {_how(worker.exitcode)})")
            log.warning("worker-%d (PID %s) died while booting (%s); respawning", idx + 1, worker.pid,
                        _how(worker.exitcode))
        return None

    def _read_ready_reports(self) -> None:
        try:
            data = os.read(self._ready_read, 4096 * _PID.size)
        except BlockingIOError:
            return
        if data:
            self._ready_pids.update(pid for (pid,) in _PID.iter_unpack(data))
            self._unready_deaths = 0

    def _spawn_workers(self, spawn_target, target_loader):
        super()._spawn_workers(spawn_target, target_loader)
        self._forget_old_reports()

    def _respawn_workers(self, workers, spawn_target, target_loader, delay: float = 0):
        super()._respawn_workers(workers, spawn_target, target_loader, delay)
        self.respawned_wrks.clear()  # granian's crash-loop bookkeeping; the rule above replaces it
        self._forget_old_reports()

    def _forget_old_reports(self) -> None:
        """Keep the pipe drained and the set to the PIDs of living workers."""
        self._read_ready_reports()
        self._ready_pids &= {worker.inner.pid for worker in self.wrks}


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"


def build_server(*, host: str, port: int, workers: int, threads: int, target: str = TARGET,
                 stall_timeout: float = SEND_STALL_TIMEOUT) -> CmsServer:
    """The server for `target` (module:attribute of a WSGI app) on host:port; a connection whose
    client takes nothing for `stall_timeout` seconds is dropped (RESPONSE_STALL_TIMEOUT)."""
    return CmsServer(
        target, address=host, port=port, interface=Interfaces.ASGINL, workers=workers, request_threads=threads,
        stall_timeout=stall_timeout, loop=Loops.uvloop,  # a cheaper hop per request than asyncio's loop
        http=HTTPModes.http1, websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS),
        respawn_failed_workers=True, workers_kill_timeout=WORKERS_KILL_TIMEOUT, log_level=LogLevels.warning,
        log_dictconfig=LOG_CONFIG,
    )


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class CannotStart(Exception):
    """The server must not start; the message says why, in one line."""


def check_granian_version(installed: str | None = None) -> None:
    """CmsServer is written against granian's private internals of one version: refuse another."""
    installed = installed or importlib.metadata.version("granian")
    if installed != GRANIAN_VERSION:
        raise CannotStart(
            f"granian {installed} is installed but cms/server.py is written for granian {GRANIAN_VERSION} "
            f"(it uses granian's private internals): install granian=={GRANIAN_VERSION}")


def check_address_free(host: str, port: int) -> None:
    """Refuse an address this server cannot have to itself: bind a probe socket there without
    SO_REUSEPORT. The kernel refuses that bind while any socket listens on the port (with or
    without SO_REUSEPORT, of any program), on that address or a wildcard one. SO_REUSEADDR lets
    it through the TIME_WAIT connections a previous run left."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        where = _address(host, port)
        if error.errno == errno.EADDRINUSE:
            raise CannotStart(f"{where} is taken: another process listens on port {port} "
                              "(another cms server?); stop it or choose another PORT") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise CannotStart(f"cannot listen on {where}: {host} is not an address of this machine (HOST)") from None
        if error.errno == errno.EACCES:
            raise CannotStart(f"cannot listen on {where}: permission denied (ports below 1024 need privileges)") \
                from None
        raise CannotStart(f"cannot listen on {where}: {error.strerror or error}") from None


def _cannot_start(error: Exception | str) -> NoReturn:
    print(f"cms: cannot start: {error}", file=sys.stderr, flush=True)
    sys.exit(1)


def settings_or_exit() -> Settings:
    """The settings (environment, then .env); an invalid one is one line and exit status 1."""
    from cms.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as error:
        _cannot_start(error)


def check_can_start(settings: Settings) -> None:
    """granian's version, the settings, the listening address and the database checked once, before
    any worker starts: a bad start is one clear line (`cms: cannot start: …`) and exit status 1, not a
    worker failing to boot nor a traceback."""
    from cms.config import ConfigError, validate, validate_for_serving
    from cms.db import StartupError, open_pool
    from cms.services.outbox import client_from_settings

    try:
        check_granian_version()
        settings = validate(settings)
        validate_for_serving(settings)
        check_address_free(settings.host, settings.port)
        client_from_settings(settings)  # its warnings, said here once rather than by every worker
        open_pool(settings.with_overrides(pool_min_size=1, pool_max_size=1)).close()
    except (CannotStart, StartupError, ConfigError) as error:
        _cannot_start(error)


def parse_options(argv: list[str] | None = None, settings: Settings | None = None) -> argparse.Namespace:
    """Options of `python -m cms.server`; their defaults are the settings HOST (else every
    interface), PORT, WEB_WORKERS and WEB_THREADS."""
    settings = settings or settings_or_exit()
    parser = argparse.ArgumentParser(prog="python -m cms.server", description="Serve the CMS with granian.")
    parser.add_argument("--host", default=settings.host or "0.0.0.0")
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=settings.web_workers)
    parser.add_argument("--threads", type=int, default=settings.web_threads)
    return parser.parse_args(argv)


def serve(settings: Settings, announce: Callable[[], None] | None = None) -> None:
    """Check that the server can start (check_can_start), call `announce`, serve on settings.host
    and settings.port until SIGTERM/SIGINT."""
    configure_logging(settings.log_level, settings.log_format)  # granian's lines and the workers' follow
    check_can_start(settings)
    metrics.prepare_multiprocess_dir()
    if announce:
        announce()
    build_server(host=settings.host, port=settings.port, workers=settings.web_workers, threads=settings.web_threads,
                 stall_timeout=settings.response_stall_timeout).serve()


def main(argv: list[str] | None = None) -> None:
    """`python -m cms.server`: check settings, address and database, then serve until SIGTERM/SIGINT."""
    settings = settings_or_exit()
    options = parse_options(argv, settings)
    serve(settings.with_overrides(host=options.host, port=options.port, web_workers=options.workers,
                                  web_threads=options.threads))


if __name__ == "__main__":
    main()
