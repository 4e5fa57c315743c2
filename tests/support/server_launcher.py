"""Starts `python -m cms.server` many times quickly, for the stop stress test (tests/test_server_stop.py).

Run as a program; it reads commands on stdin, one per line, and answers one line each:

    start PORT LOG_PATH  -> "PID"          fork a server: its own session, output to LOG_PATH
    wait PID SECONDS     -> "exited N" | "killed N" | "alive" | "reaped" (waited for already)

A started server is `cms.server.main(["--port", PORT, ...])` in a forked child: what
`python -m cms.server` runs, minus the interpreter's start-up and imports, which this process did
once (cms.server, the app package and their libraries). That is what makes a few hundred
start/stop cycles fit in a test run; the signals, the main loop, the workers and their sockets are
the server's own. The settings come from this process's environment.
"""

from __future__ import annotations

import os
import sys
import time

import cms  # noqa: F401 - the app package and its libraries, imported once before any fork
import cms.server


def start(port: str, log_path: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        sys.stdin.close()
        cms.server.main(["--host", "127.0.0.1", "--port", port, "--workers", "2", "--threads", "4"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported in the server's log, then exit 1
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wait(pid: int, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return "reaped"
        if done:
            if os.WIFSIGNALED(status):
                return f"killed {os.WTERMSIG(status)}"
            return f"exited {os.WEXITSTATUS(status)}"
        if time.monotonic() > deadline:
            return "alive"
        time.sleep(0.02)


def main() -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "start":
            answer = str(start(args[0], args[1]))
        elif command == "wait":
            answer = wait(int(args[0]), float(args[1]))
        else:
            answer = f"unknown command {command}"
        print(answer, flush=True)


if __name__ == "__main__":
    main()
