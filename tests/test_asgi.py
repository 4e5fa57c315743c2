"""cms/asgi.py, the server's front, driven in process by an ASGI peer written here: the environ it
builds, when it closes the app's body, and what it does when the client leaves or sends too much.
(tests/test_slow_clients.py holds the same front to its time limits on the real server.)"""

from __future__ import annotations

import asyncio

from werkzeug.exceptions import HTTPException

from cms.asgi import WsgiOverAsgi


def scope_of(headers=(), method="GET", path="/") -> dict:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 50000), "headers": [(name.encode(), value.encode()) for name, value in headers]}


def serve(wsgi_app, scope: dict, receive=None, *, max_request_bytes: int = 1000) -> list[dict]:
    """What the front sends for one request; `receive` plays the client (default: no body, stays)."""
    sent = []

    async def stays():
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    front = WsgiOverAsgi(wsgi_app, threads=2, max_request_bytes=max_request_bytes)
    try:
        asyncio.run(asyncio.wait_for(front(scope, receive or stays, send), 20))
    finally:
        front.threads.shutdown(wait=True)
    return sent


def body_of(sent: list[dict]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")


def environ_echo(keys):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr({key: environ.get(key) for key in keys}).encode()]
    return app


class Chunks:
    """A WSGI body of `count` chunks that counts how many were made and how often it was closed."""

    def __init__(self, count: int, fail_at: int | None = None):
        self.count, self.fail_at, self.made, self.closed = count, fail_at, 0, 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.made == self.fail_at:
            raise RuntimeError("the database went away")
        if self.made >= self.count:
            raise StopIteration
        self.made += 1
        return b"x" * 100

    def close(self):
        self.closed += 1

    def app(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self


def test_header_names_with_underscores_are_dropped_not_taken_for_dashed_ones():
    sent = serve(environ_echo(["CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_X_FORWARDED_FOR"]), scope_of([
        ("content-type", "application/json"), ("content_type", "multipart/form-data"),
        ("x_forwarded_for", "6.6.6.6"), ("x-forwarded-for", "1.1.1.1")]))
    assert body_of(sent) == repr({"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": None,
                                  "HTTP_X_FORWARDED_FOR": "1.1.1.1"}).encode()


def test_repeated_headers_are_joined_and_cookies_with_semicolons():
    sent = serve(environ_echo(["HTTP_COOKIE", "HTTP_ACCEPT"]), scope_of([
        ("cookie", "a=1"), ("cookie", "b=2"), ("accept", "text/html"), ("accept", "application/json")]))
    assert body_of(sent) == repr({"HTTP_COOKIE": "a=1; b=2", "HTTP_ACCEPT": "text/html,application/json"}).encode()


def test_a_streamed_body_is_closed_once_when_it_ends():
    stream = Chunks(5)
    sent = serve(stream.app, scope_of())
    assert body_of(sent) == b"x" * 500
    assert sent[-1] == {"type": "http.response.body", "body": b""}  # the last chunk: complete
    assert (stream.made, stream.closed) == (5, 1)


def test_a_body_that_fails_before_its_first_chunk_is_closed():
    stream = Chunks(5, fail_at=0)
    try:
        serve(stream.app, scope_of())
    except RuntimeError:
        pass
    assert stream.closed == 1


def test_a_stream_that_fails_midway_is_cut_short_and_closed():
    stream = Chunks(50, fail_at=10)
    sent = serve(stream.app, scope_of())
    assert len(body_of(sent)) == 1000
    assert sent[-1].get("more_body") is True  # never the last chunk: the client cannot take it for whole
    assert stream.closed == 1


def test_a_stream_stops_making_chunks_once_the_client_has_left():
    stream = Chunks(100_000)
    told = []

    async def leaves():
        if not told:
            told.append(1)
            await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    sent = serve(stream.app, scope_of(), leaves)
    assert stream.made < 100_000
    assert stream.closed == 1
    assert sent[-1].get("more_body") is True


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read():
    def app(environ, start_response):
        try:
            environ["wsgi.input"].read()
            status = "200 OK"
        except HTTPException as error:
            status = f"{error.code} Refused"
        start_response(status, [("Content-Type", "text/plain")])
        return [b""]

    async def never_asked():
        raise AssertionError("the body was read")

    sent = serve(app, scope_of([("content-length", "5000")], method="POST"), never_asked)
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]


def test_the_apps_when_sent_is_called_after_the_last_byte_and_says_whether_it_went_out_whole():
    from cms.raw_request import RECEIVED_AT, WHEN_SENT

    for leaves, expected in ((False, True), (True, False)):
        calls = []
        stream = Chunks(20)

        def app(environ, start_response, stream=stream, calls=calls):
            environ[WHEN_SENT] = lambda at, whole, environ=environ: calls.append((at - environ[RECEIVED_AT], whole))
            return stream.app(environ, start_response)

        async def gone():
            return {"type": "http.disconnect"}

        sent = serve(app, scope_of(), gone if leaves else None)
        assert calls and calls[0][1] is expected and calls[0][0] > 0, calls
        assert len(calls) == 1
        assert (sent[-1].get("more_body") is True) is leaves
