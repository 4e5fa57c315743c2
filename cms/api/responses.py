"""Answers built the same way by several blueprints: car lists (public and admin), JSON written directly."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from urllib.parse import urlencode

from flask import current_app, request

from cms import db
from cms.api.context import cursor_secret, public_base_url, runtime_settings
from cms.api.envelope import GZIP_LEVEL
from cms.api.revalidation import validator_headers
from cms.schemas.cars import car_list_json
from cms.services import cars as cars_service
from cms.services import revalidation as revalidation_service

TOTAL_COUNT_HEADER = "X-Total-Count"
TOTAL_COUNT_CAPPED_HEADER = "X-Total-Count-Capped"
TOTAL_COUNT_HEADERS = {
    TOTAL_COUNT_HEADER: {"description": "Number of matching cars (all pages)",
                         "schema": {"type": "integer", "minimum": 0}},
    TOTAL_COUNT_CAPPED_HEADER: {"description": "Sent (as true) when counting stopped at its cap: X-Total-Count "
                                               "is then a lower bound",
                                "schema": {"type": "string", "enum": ["true"]}},
    "Link": {"description": 'With limit, when the page is full: <URL of the next page>; rel="next" '
                            "(same filters, sort and limit, an opaque cursor instead of offset)",
             "schema": {"type": "string"}},
}


def car_list_response(filters: dict, *, admin: bool = False):
    """The filtered, sorted page of cars with primaryImage (and rejectionReason for the admin list),
    X-Total-Count and, when the count stopped at its cap, X-Total-Count-Capped: true.

    A page (`limit`) that is full carries `Link: <…>; rel="next"`: the same URL with a cursor
    after its last car instead of an offset (RFC 8288). Without `limit` every match is streamed.
    The body is exactly what jsonify(CarListItemSchema(many=True).dump(cars)) sends
    (AdminCarListItemSchema for the admin list), written by cms.schemas.cars.car_list_json
    (tests/test_car_list_dump.py).
    """
    if filters.get("limit") is None:
        return _streamed_list(filters, admin=admin)
    secret = cursor_secret()
    page = cars_service.list_cars(db.connection(), filters, runtime=runtime_settings(), base_url=public_base_url(),
                                  cursor_secret=secret, listed_only=not admin)
    response = json_response(b"[" + ",".join(car_list_json(page.rows, page.columns, admin=admin)).encode() + b"]\n")
    _set_total(response, page.total, page.capped)
    cursor = cars_service.next_cursor(page, filters, cursor_secret=secret)
    if cursor is not None:
        response.headers["Link"] = f'<{_next_url(cursor)}>; rel="next"'
    return response


def indented(app) -> bool:
    """Whether JSON bodies are indented (jsonify's debug-mode format)."""
    compact = app.json.compact
    return (compact is None and app.debug) or compact is False


def json_response(body: bytes):
    """A JSON body written elsewhere (cms.schemas.cars' writers), sent as jsonify would send it."""
    app = current_app._get_current_object()
    if indented(app):
        body = f"{app.json.dumps(json.loads(body), indent=2)}\n".encode()
    return app.response_class(body, mimetype=app.json.mimetype)


def _set_total(response, total: int, capped: bool) -> None:
    response.headers[TOTAL_COUNT_HEADER] = str(total)
    if capped:
        response.headers[TOTAL_COUNT_CAPPED_HEADER] = "true"


def _next_url(cursor: str) -> str:
    """This request's URL (same filters, sort and limit) with `cursor` instead of offset and cursor."""
    params = [(key, value) for key, value in request.args.items(multi=True) if key not in ("offset", "cursor")]
    params.append(("cursor", cursor))
    return f"{public_base_url()}{request.path}?{urlencode(params)}"


def _streamed_list(filters: dict, *, admin: bool):
    """Every match, written and sent a batch at a time (gzip-compressed as it goes when the client
    accepts it) from cms.services.cars.CarStream. A list that fits in one batch is an ordinary
    response; past the first batch a failure (PostgreSQL gone mid-way) can only cut the body
    short: the 200 is already sent.

    The public list's validator is the one of the stream's own snapshot (the pool's, on the
    primary): the one read before the view (cms.api.declare) may come from a replica, which a
    synchronous standby can put ahead of the primary's snapshot."""
    stream = cars_service.CarStream(db.get_pool(), filters, runtime=runtime_settings(), base_url=public_base_url(),
                                    idle_timeout_ms=current_app.config["CMS_SETTINGS"].stream_idle_timeout_ms,
                                    listed_only=not admin)
    first = ",".join(car_list_json(stream.first, stream.columns, admin=admin))
    if stream.complete:
        response = json_response(f"[{first}]\n".encode())
        return _streamed_headers(response, stream, admin=admin)

    def body() -> Iterator[bytes]:
        yield f"[{first}".encode()
        for rows in stream.rest():
            yield f",{','.join(car_list_json(rows, stream.columns, admin=admin))}".encode()
        yield b"]\n"

    if indented(current_app):  # debug mode: one indented body, as jsonify writes it
        return _streamed_headers(json_response(b"".join(body())), stream, admin=admin)
    gzipped = request.accept_encodings["gzip"] > 0
    response = current_app.response_class(_gzip_stream(body()) if gzipped else body(),
                                          mimetype=current_app.json.mimetype)
    response.call_on_close(stream.close)  # a body never iterated (nothing else would release it)
    response.vary.add("Accept-Encoding")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return _streamed_headers(response, stream, admin=admin)


def _streamed_headers(response, stream: cars_service.CarStream, *, admin: bool):
    """X-Total-Count, and for the public list the validator of the stream's snapshot."""
    _set_total(response, stream.total, False)
    if not admin:
        tag = revalidation_service.tag_of(stream.version, runtime=runtime_settings(), base_url=public_base_url())
        response.headers.extend(validator_headers(tag))
    return response


def _gzip_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks as one gzip stream, compressed as they come (level GZIP_LEVEL, like other bodies)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    for chunk in chunks:
        compressed = compressor.compress(chunk)
        if compressed:
            yield compressed
    yield compressor.flush()
