"""A malformed request body is the client's error (400), whatever HTTP server runs the app.

The server hands the app a stream (`wsgi.input`) that decodes chunked transfer encoding while
the app reads it. A broken chunk ("3\\r\\n{"ab\\r\\n0\\r\\n\\r\\n") then raises the server's own
exception (gunicorn: InvalidChunkSize, ChunkMissingTerminator, NoMoreData) in the middle of
Flask's body parsing, which turned into a 500 with a traceback. This middleware wraps the stream
so that any failure to read the body becomes werkzeug's BadRequest, answered as a JSON 400.
"""

from __future__ import annotations

import logging

from werkzeug.exceptions import BadRequest, HTTPException

log = logging.getLogger(__name__)


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
    """Wrap every request's body stream (see the module docstring)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _GuardedInput(stream)
        return self.wsgi_app(environ, start_response)
