"""CORS for every route: flask-cors, with the answer to simple (non-preflight) requests kept.

flask-cors works out the headers of every response from its options, the request's Origin and
its Access-Control-Request-Private-Network header (~30 µs a request here, a tenth of a car
detail). For any request but a preflight (OPTIONS) nothing else goes in, so the answer is
computed once per (Origin, private-network) pair by flask-cors itself and kept; flask-cors'
own hook then sees the headers set and leaves the response alone. Preflights, and error
responses (which flask-cors answers from its exception handlers), still go through flask-cors.

get_cors_options and get_cors_headers are flask-cors' internals (flask_cors.core), not its
documented API: the version is pinned in setup.cfg for that reason, and tests/test_cors.py
compares every kept answer with what flask-cors itself sends for three origin configurations, so
an upgrade that changes either function's behaviour fails there before it ships.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS
from flask_cors.core import ACL_REQUEST_HEADER_PRIVATE_NETWORK, get_cors_headers, get_cors_options
from werkzeug.datastructures import Headers

EXPOSED_HEADERS = ("X-Total-Count", "X-Total-Count-Capped", "X-Request-Id", "Link", "Idempotent-Replayed")

# Origin is the client's to write: the kept answers are bounded in number (then forgotten and worked
# out again) and in size (a longer Origin, which no browser sends, is answered without being kept).
# The flask-cors release whose internals (get_cors_options, get_cors_headers) this module was
# written and tested against; setup.cfg pins the same, and tests/test_cors.py checks both agree.
WRITTEN_FOR_FLASK_CORS = "6.0.5"

KEPT_ANSWERS = 256
KEPT_ORIGIN_CHARS = 256


def init_cors(app: Flask, origins: tuple[str, ...]) -> None:
    options = {
        "origins": list(origins),
        "allow_headers": ["Authorization", "Content-Type", "Idempotency-Key"],
        "expose_headers": list(EXPOSED_HEADERS),
        "methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "max_age": 600,
    }
    CORS(app, **options)
    computed = get_cors_options(app, options)
    answers: dict[tuple[str | None, bool], list[tuple[str, str]]] = {}

    def answer(origin: str | None, private_network: bool) -> list[tuple[str, str]]:
        """The CORS headers of a simple request with this Origin header (None: without one)."""
        key = (origin, private_network)
        headers = answers.get(key)
        if headers is None:
            asked = Headers()
            if origin is not None:
                asked["Origin"] = origin
            if private_network:
                asked[ACL_REQUEST_HEADER_PRIVATE_NETWORK] = "true"
            headers = list(get_cors_headers(computed, asked, "GET").items())
            if origin is not None and len(origin) > KEPT_ORIGIN_CHARS:
                return headers
            if len(answers) >= KEPT_ANSWERS:
                answers.clear()
            answers[key] = headers
        return headers

    def simple_request_headers(environ: dict) -> list[tuple[str, str]]:
        """The CORS headers of a simple (non-preflight) request, from its WSGI environ."""
        private_network = environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK") == "true"
        return answer(environ.get("HTTP_ORIGIN"), private_network)

    # Sent by cms.api.envelope.outgoing_headers (Flask's hook and the car detail lane): flask-cors'
    # own hook then finds the headers set and leaves the response alone.
    app.extensions["cms.cors_headers"] = simple_request_headers
