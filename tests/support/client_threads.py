"""Client threads for load tests against a live server: a context manager that starts them and,
on exit, stops and joins them (failing if one hangs)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class ClientThreads:
    """Threads running `target(index)` until `stop` is set."""

    def __init__(self, count: int = 0, target: Callable[[int], None] | None = None, join_timeout: float = 90.0):
        self.stop = threading.Event()
        self.join_timeout = join_timeout
        self._threads = [threading.Thread(target=target, args=(n,), daemon=True) for n in range(count)]

    def add_thread(self, run: Callable[[], None]) -> None:
        """One more thread (before entering)."""
        self._threads.append(threading.Thread(target=run, daemon=True))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=self.join_timeout)
        assert not any(thread.is_alive() for thread in self._threads), "a client thread hung"
