"""Clients that hold a connection without finishing their part (tests/test_slow_clients.py, bench/slow_clients.py)."""

from __future__ import annotations

import socket


def slow_body(port: int, *, chunked: bool = False) -> socket.socket:
    """A login whose body starts (one byte) and never ends."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    framing = b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n" if chunked else b"Content-Length: 100\r\n\r\n{"
    sock.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing)
    return sock


def never_reading(port: int, path: str = "/api/cars") -> socket.socket:
    """A client that asks for `path` and never reads a byte of the answer (small receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n".encode())
    return sock
