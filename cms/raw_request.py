"""What the app accepts of a raw HTTP request, whatever HTTP server runs it.

Limits: a request line of at most MAX_REQUEST_LINE bytes (414) and at most MAX_HEADER_FIELDS
header fields of at most MAX_HEADER_BYTES each (431), gunicorn's defaults (fields: 100 there).
granian's HTTP layer takes headers up to about 400 KB, so the app checks them itself and answers
in JSON like any other error; only beyond 100 fields, or a request line far over the limit, does
the HTTP layer refuse first (a bare 431 or 414).

A malformed request body is the client's error (400).

The server hands the app a stream (`wsgi.input`) that decodes chunked transfer encoding while
the app reads it. A broken chunk ("3\\r\\n{"ab\\r\\n0\\r\\n\\r\\n") then raises the server's own
exception (gunicorn: InvalidChunkSize, ChunkMissingTerminator, NoMoreData; granian: its own
read error) in the middle of
Flask's body parsing, which turned into a 500 with a traceback. This middleware wraps the stream
so that any failure to read the body becomes werkzeug's BadRequest, answered as a JSON 400.
"""

from __future__ import annotations

import logging

from werkzeug.exceptions import BadRequest, HTTPException, RequestHeaderFieldsTooLarge, RequestURITooLarge

log = logging.getLogger(__name__)


# What the ASGI front (cms/asgi.py) and the app say to each other through the environ: the
# perf_counter() time the request arrived, and a callable(sent_at, whole) the app may leave for the
# front to call once the answer's last byte is sent (or the answer given up).
RECEIVED_AT = "cms.received_at"
WHEN_SENT = "cms.when_sent"

MAX_REQUEST_LINE = 4094
MAX_HEADER_FIELDS = 64  # browsers send about 20
MAX_HEADER_BYTES = 8190


def check_request_size(environ: dict) -> None:
    """Raise werkzeug's 414 or 431 for an oversized request line or headers."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
        environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""))
    if len(target) + len(environ.get("REQUEST_METHOD", "")) + len(" HTTP/1.1") + 1 > MAX_REQUEST_LINE:
        raise RequestURITooLarge()
    fields = 0
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            fields += 1
            if fields > MAX_HEADER_FIELDS or len(key) + len(str(value)) > MAX_HEADER_BYTES:
                raise RequestHeaderFieldsTooLarge()


class MalformedBody(BadRequest):
    cms_message = "Malformed request body (it could not be read as sent)"


class _GuardedInput:
    """wsgi.input whose read errors become MalformedBody."""

    def __init__(self, stream):
        self._stream = stream

    def _guard(self, method, *args):
        try:
            return method(*args)
        except HTTPException:
            raise
        except Exception as error:  # noqa: BLE001 - any server's parser error: the bytes sent were wrong
            log.info("unreadable request body: %s: %s", type(error).__name__, error)
            raise MalformedBody() from error

    def read(self, *args):
        return self._guard(self._stream.read, *args)

    def readline(self, *args):
        return self._guard(self._stream.readline, *args)

    def readlines(self, *args):
        return self._guard(self._stream.readlines, *args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name):  # close(), etc. of the server's stream
        return getattr(self._stream, name)


class GuardedInputMiddleware:
    """Wrap every request's body stream (see the module docstring); the size limits are checked
    by the app (cms.create_app, before each request) so that the refusal is JSON like any error."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _GuardedInput(stream)
        return self.wsgi_app(environ, start_response)
