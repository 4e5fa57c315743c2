"""Sends the server SIGTERM from inside its main loop's wake-up, for tests/test_server_stop.py.

`python stop_probe.py PORT N`: serves tests/support/tiny_wsgi.py with cms.server (2 workers),
kills one worker, and raises SIGTERM at the N-th line the main thread runs inside the wake-up
object's methods (cms.server's main_loop_interrupt, whatever its class) after that death. The
signal handler then runs at that very point of the main loop. When the wake-up runs fewer than N
lines, SIGTERM comes from another thread 2 s after the death. The server must stop and exit.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import cms.server


def main() -> None:
    port, nth = int(sys.argv[1]), int(sys.argv[2])
    server = cms.server.build_server(host="127.0.0.1", port=port, workers=2, threads=1, target="support.tiny_wsgi:app")
    wake = server.main_loop_interrupt
    inside = {id(wake), id(getattr(wake, "_cond", wake))}  # threading.Event keeps a Condition
    armed, signalled = threading.Event(), threading.Event()
    seen = 0

    def tracer(frame, event, arg):
        nonlocal seen
        if event == "call":
            return tracer if id(frame.f_locals.get("self")) in inside else None
        if event == "line" and armed.is_set():
            seen += 1
            if seen == nth:
                signalled.set()
                os.kill(os.getpid(), signal.SIGTERM)
        return tracer

    def kill_a_worker() -> None:
        while len(server.wrks) < 2 or not all(worker.inner.pid for worker in server.wrks):
            time.sleep(0.05)
        time.sleep(0.5)
        armed.set()
        os.kill(server.wrks[0].inner.pid, signal.SIGKILL)
        if not signalled.wait(2):
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_a_worker, daemon=True).start()
    sys.settrace(tracer)
    server.serve()


if __name__ == "__main__":
    main()
