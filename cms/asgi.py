"""The app as the production server runs it: ASGI in front, the Flask (WSGI) app on a thread pool.

Why not granian's WSGI interface: there a request is handed to a Python thread as soon as its
headers have arrived, and the thread reads the body as the client sends it. Sixteen clients that
send `Content-Length: 100` and one byte held every thread of both workers for as long as they
liked. The reverse held too: a Python thread wrote each chunk of an answer and waited while the
client did not read, so sixteen clients that never read the whole car list held every thread and
the database snapshots behind them.

Here the event loop of each granian worker does the waiting, which costs a socket and a task, not
a thread:

- **The body is read first.** The loop collects it (in memory up to SPOOL_IN_MEMORY bytes, then in
  a temporary file). It must keep coming: a pause of REQUEST_BODY_IDLE_TIMEOUT seconds, or a body
  still unfinished after REQUEST_BODY_TIMEOUT, is a 408; more than MAX_REQUEST_BYTES is a 413.
  Either way Flask answers (its JSON error, its log line), given a body whose read raises that
  error; the rest of the body is never read and the connection is closed after the answer. Only a
  complete request reaches a thread.
- **The answer is written by the loop.** A thread runs Flask and produces the body (for a streamed
  answer, one chunk at a time); the loop sends it. A client that takes no byte of the answer for
  RESPONSE_STALL_TIMEOUT seconds is cut off: the body is closed (a streamed car list ends its
  transaction) and the connection dropped mid-body, so the client cannot take it for complete.
  Meanwhile no thread waits on it.

Requests without a body (no Content-Length, no Transfer-Encoding) skip the first step. The environ
is PEP 3333's, built from the ASGI scope as granian's WSGI interface built it, plus the time the
request arrived (`cms.received_at`). The app may leave a callable in the environ
(`cms.when_sent`): the loop calls it once the last byte is sent, or the answer given up, with that
time and whether the answer went out whole; the request log and the latency metrics are written
there, so that a streamed list or an answer that waited for the pool is timed as the client saw it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from urllib.parse import unquote_to_bytes

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout

from cms.db import one_line
from cms.raw_request import RECEIVED_AT, WHEN_SENT, MalformedBody

log = logging.getLogger(__name__)

# Defaults of the settings REQUEST_BODY_IDLE_TIMEOUT, REQUEST_BODY_TIMEOUT, RESPONSE_STALL_TIMEOUT.
BODY_IDLE_TIMEOUT = 10.0  # seconds a request body may pause between two pieces
BODY_TIMEOUT = 60.0  # seconds the whole body may take (a 60 MB upload at 1 MB/s)
SEND_STALL_TIMEOUT = 30.0  # seconds a client may leave a piece of the answer untaken
SEND_PIECE = 256 * 1024  # an answer is sent in pieces of at most this many bytes (progress per piece)
SPOOL_IN_MEMORY = 1024 * 1024  # larger bodies wait in a temporary file


class BodyTimeout(RequestTimeout):
    def __init__(self, idle: float, whole: float):
        super().__init__()
        self.cms_message = f"The request body did not arrive in time (a pause of {idle:g} s, or {whole:g} s in all)"


class _RefusedBody:
    """wsgi.input of a request whose body was not accepted: reading it raises the reason."""

    def __init__(self, error: HTTPException):
        self.error = error

    def read(self, *args):
        raise self.error

    readline = readlines = read

    def close(self) -> None:
        pass


class _EmptyBody:
    @staticmethod
    def read(*args) -> bytes:
        return b""

    readline = read

    @staticmethod
    def readlines(*args) -> list:
        return []

    def close(self) -> None:
        pass


class _ClientGone(Exception):
    """The client closed the connection or stopped taking the answer."""


def environ_of(scope: dict, body) -> dict:
    """The PEP 3333 environ of an ASGI http scope (str values latin-1, as a WSGI server gives them)."""
    raw_path = scope.get("raw_path")
    path = unquote_to_bytes(raw_path).decode("latin-1") if raw_path else scope["path"].encode().decode("latin-1")
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": path,
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.input_terminated": True,  # the whole body is there: werkzeug reads a chunked one to its end
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if raw_path:
        query = scope["query_string"]
        environ["RAW_URI"] = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
    for name, value in scope["headers"]:
        if b"_" in name:  # X_Forwarded_For would pass for X-Forwarded-For: dropped, as gunicorn does
            continue
        key = name.decode("latin-1").upper().replace("-", "_")
        if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
            environ[key] = value.decode("latin-1")
            continue
        key = "HTTP_" + key
        value = value.decode("latin-1")
        if key in environ:  # repeated: one value, joined as RFC 9110 says (cookies with "; ")
            value = f"{environ[key]}{'; ' if key == 'HTTP_COOKIE' else ','}{value}"
        environ[key] = value
    return environ


def _declared_body(headers: list) -> tuple[bool, int | None]:
    """Whether the request has a body, and its Content-Length when it says one."""
    declares, length = False, None
    for name, value in headers:
        if name == b"transfer-encoding":
            declares = True
        elif name == b"content-length" and value.strip() not in (b"0", b""):
            declares = True
            length = int(value) if value.strip().isdigit() else None
    return declares, length


class WsgiOverAsgi:
    """An ASGI app serving `wsgi_app` on `threads` threads (see the module docstring)."""

    def __init__(self, wsgi_app, *, threads: int, max_request_bytes: int, body_timeout: float = BODY_TIMEOUT,
                 body_idle_timeout: float = BODY_IDLE_TIMEOUT, stall_timeout: float = SEND_STALL_TIMEOUT):
        self.wsgi_app = wsgi_app
        self.max_request_bytes = max_request_bytes
        self.body_timeout, self.body_idle_timeout, self.stall_timeout = body_timeout, body_idle_timeout, stall_timeout
        self.threads = RequestThreads(threads)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        received = time.perf_counter()
        body, complete = _EmptyBody(), True
        declares, declared_length = _declared_body(scope["headers"])
        if declares:
            body, complete = await self._read_body(receive, declared_length)
        status, headers, chunks, more, when_sent = await self.threads.run(self._start, scope, body, received)
        if not complete:
            headers.append((b"connection", b"close"))  # the body's rest was never read
        gone = pending = None
        whole = False
        try:
            await self._send(send, {"type": "http.response.start", "status": status, "headers": headers})
            if more is None and len(chunks) == 1 and len(chunks[0]) <= SEND_PIECE:  # most answers
                await self._send(send, {"type": "http.response.body", "body": chunks[0]})
                whole = True
                return
            if more is not None:
                # granian drops what is sent to a client that has left without saying so; only
                # receive() tells: a stream stops making chunks as soon as it does.
                gone = asyncio.ensure_future(_disconnected(receive))
            for chunk in chunks:
                await self._send_body(send, chunk)
            while more is not None and not gone.done():
                pending = self.threads.submit(next, more, None)
                try:
                    chunk = await asyncio.wrap_future(pending)
                except Exception as error:  # noqa: BLE001 - e.g. the database went away mid-list
                    log.error("streamed answer cut short: %s: %s", type(error).__name__, one_line(str(error)))
                    return
                if chunk is None:
                    break
                await self._send_body(send, chunk)
            else:
                if more is not None:
                    return  # the client left: no last chunk
            await send({"type": "http.response.body", "body": b""})
            whole = True
        except _ClientGone:
            return  # returning before the last message drops the connection mid-body
        finally:
            sent = time.perf_counter()
            if gone is not None:
                gone.cancel()
            if more is not None:
                if pending is not None and not pending.done():  # cancelled while a chunk is made
                    pending.add_done_callback(lambda _: self.threads.submit(more.close))
                else:
                    await self.threads.run(more.close)
            if when_sent is not None:
                _call_when_sent(when_sent, sent, whole)

    async def _read_body(self, receive, declared_length: int | None):
        """The request body as a file for wsgi.input, and whether it arrived whole."""
        if declared_length is not None and declared_length > self.max_request_bytes:
            return _RefusedBody(RequestEntityTooLarge()), False  # refused before a byte of it is read
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        size = 0
        while True:
            wait = min(self.body_idle_timeout, deadline - loop.time())
            try:
                if wait <= 0:
                    raise TimeoutError
                async with asyncio.timeout(wait):
                    message = await receive()
            except TimeoutError:
                spool.close()
                return _RefusedBody(BodyTimeout(self.body_idle_timeout, self.body_timeout)), False
            except Exception:  # noqa: BLE001 - the HTTP layer could not decode the body (a broken chunk)
                spool.close()
                return _RefusedBody(MalformedBody()), False
            if message["type"] == "http.disconnect":  # the client left, or its chunked body broke off
                spool.close()
                return _RefusedBody(MalformedBody()), False
            piece = message.get("body", b"")
            size += len(piece)
            if size > self.max_request_bytes:
                spool.close()
                return _RefusedBody(RequestEntityTooLarge()), False
            spool.write(piece)
            if not message.get("more_body", False):
                spool.seek(0)
                return spool, True

    def _start(self, scope: dict, body, received: float):
        """In a thread: run the app up to its first chunk. (status, headers, chunks, rest iterator or
        None, the app's cms.when_sent or None)"""
        started = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return _no_write

        result = None
        try:
            environ = environ_of(scope, body)
            environ[RECEIVED_AT] = received
            result = self.wsgi_app(environ, start_response)
            iterator = iter(result)
            # Two steps here: a generator calls start_response on its first, and a body that is not
            # streamed has ended by the second, so that most answers need one trip to a thread.
            chunks = [chunk for chunk in (next(iterator, None), next(iterator, None)) if chunk is not None]
            status, headers = started
            answer = (int(status.split(" ", 1)[0]),
                      [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
                      chunks, None if len(chunks) < 2 else _Remaining(result, iterator), environ.get(WHEN_SENT))
        except BaseException:
            _close(result)
            raise
        finally:
            body.close()
        if answer[3] is None:
            _close(result)
        return answer

    async def _send_body(self, send, chunk: bytes) -> None:
        for start in range(0, len(chunk), SEND_PIECE):
            await self._send(send, {"type": "http.response.body", "body": chunk[start:start + SEND_PIECE],
                                    "more_body": True})

    async def _send(self, send, message: dict) -> None:
        try:
            async with asyncio.timeout(self.stall_timeout):
                await send(message)
        except (TimeoutError, OSError, RuntimeError) as error:  # stalled, or the connection is gone
            raise _ClientGone from error


class RequestThreads:
    """The threads that run the WSGI app: jobs wait in one first-come-first-served queue, and each
    thread takes the next job as soon as it is free.

    A job handed over from the event loop (run) settles an asyncio future through the loop's
    call_soon_threadsafe, with no concurrent.futures.Future between them: under load that hand-off
    cost a few microseconds against 25-30 for ThreadPoolExecutor + run_in_executor (2 workers of
    8 concurrent jobs each, bench/README.md "Where a request's time goes"). submit gives a
    concurrent.futures.Future, for a job whose end another job must wait for (closing a stream
    while its next chunk is being made).
    """

    def __init__(self, count: int, name: str = "cms-request"):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def run(self, fn, *args) -> asyncio.Future:
        """Run fn(*args) on a thread; the future (of the running loop) gets its result or error."""
        future = asyncio.get_running_loop().create_future()
        self._jobs.put((future, fn, args))
        return future

    def submit(self, fn, *args) -> Future:
        """Run fn(*args) on a thread; a concurrent.futures.Future (from any thread) gets its result."""
        future: Future = Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = True) -> None:
        """The threads end after the jobs queued before this call."""
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        take = self._jobs.get
        while (job := take()) is not None:
            future, fn, args = job
            if isinstance(future, Future):
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args))
                    except BaseException as error:  # noqa: BLE001 - the waiting side gets it
                        future.set_exception(error)
                continue
            try:
                result, error = fn(*args), None
            except BaseException as raised:  # noqa: BLE001 - the waiting side gets it
                result, error = None, raised
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: nobody waits for it any more
                pass
            del job, future, result, error  # hold no answer while waiting for the next job


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.cancelled():  # the request's task was cancelled meanwhile (the server stopping)
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class _Remaining:
    """The rest of a WSGI body: next() gives the chunks, close() closes the app's iterable."""

    def __init__(self, iterable, iterator):
        self.iterable, self.iterator = iterable, iterator

    def __next__(self):
        return next(self.iterator)

    def __iter__(self):
        return self

    def close(self) -> None:
        iterable, self.iterable = self.iterable, None  # once
        _close(iterable)


def _call_when_sent(when_sent, sent: float, whole: bool) -> None:
    try:
        when_sent(sent, whole)
    except Exception:  # noqa: BLE001 - a failure to log or count must not reach granian
        log.exception("recording a sent answer failed")


async def _disconnected(receive) -> None:
    """Returns when the client has closed the connection (after the request body was read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _close(iterable) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _no_write(data: bytes) -> None:
    raise NotImplementedError("the WSGI write() callable is not supported: return the body")
