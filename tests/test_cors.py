"""CORS headers: the kept answers for simple requests (cms/api/cors.py) are flask-cors' own."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from cms.api import cors

ROOT = Path(__file__).resolve().parent.parent

CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials",
                "Access-Control-Allow-Private-Network", "Access-Control-Allow-Headers",
                "Access-Control-Allow-Methods", "Access-Control-Max-Age", "Vary")

REQUESTS = [
    ("GET", "/ping", {}),
    ("GET", "/ping", {"Origin": "http://localhost:5173"}),
    ("GET", "/ping", {"Origin": "http://front.example"}),
    ("GET", "/ping", {"Origin": "http://evil.example"}),
    ("GET", "/ping", {"Origin": ""}),
    ("GET", "/ping", {"Origin": "http://front.example", "Access-Control-Request-Private-Network": "true"}),
    ("GET", "/ping", {"Access-Control-Request-Private-Network": "true"}),
    ("GET", "/api/cars?limit=1", {"Origin": "http://front.example"}),
    ("GET", "/api/users", {"Origin": "http://front.example"}),  # 401 from an error handler
    ("GET", "/api/cars/999999999", {"Origin": "http://evil.example"}),  # 404
    ("POST", "/api/auth/login", {"Origin": "http://front.example"}),  # 400, no body
    ("OPTIONS", "/api/cars/3", {"Origin": "http://front.example", "Access-Control-Request-Method": "PATCH",
                                "Access-Control-Request-Headers": "Authorization, Content-Type"}),
]


def _cors_headers(response) -> dict[str, list[str]]:
    return {name: response.headers.getlist(name) for name in CORS_HEADERS if name in response.headers}


def _flask_cors_alone(app):
    """The same app without the kept answers: flask-cors works out every response itself."""
    app.after_request_funcs[None] = [hook for hook in app.after_request_funcs[None]
                                     if hook.__name__ != "simple_request_cors"]
    return app


@pytest.mark.parametrize("origins", [("*",), ("http://front.example",), ("http://front.example", "http://b.example")])
def test_kept_cors_answers_are_flask_cors_answers(make_app, origins):
    ours = make_app(cors_origins=origins).test_client()
    reference = _flask_cors_alone(make_app(cors_origins=origins)).test_client()
    for method, path, headers in REQUESTS * 2:  # the second round is answered from what was kept
        expected = reference.open(path, method=method, headers=headers)
        answered = ours.open(path, method=method, headers=headers)
        assert answered.status_code == expected.status_code, (method, path, headers)
        assert _cors_headers(answered) == _cors_headers(expected), (method, path, headers)
    assert "Access-Control-Allow-Origin" in _cors_headers(ours.get("/ping", headers={"Origin": "http://front.example"}))


def test_many_origins_still_get_their_own_answer(make_app):
    client = make_app(cors_origins=("http://front.example",)).test_client()
    for number in range(300):  # more than are kept
        refused = client.get("/ping", headers={"Origin": f"http://x{number}.example"})
        assert "Access-Control-Allow-Origin" not in refused.headers
    allowed = client.get("/ping", headers={"Origin": "http://front.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://front.example"


def test_simple_requests_are_answered_without_working_cors_out_again(make_app, monkeypatch):
    import flask_cors.core

    import cms.api.cors

    client = make_app(cors_origins=("http://front.example",)).test_client()
    worked_out, kept_answer_made = [], []
    original = flask_cors.core.get_cors_headers
    monkeypatch.setattr(flask_cors.core, "get_cors_headers",
                        lambda *args, **kwargs: worked_out.append(args) or original(*args, **kwargs))
    monkeypatch.setattr(cms.api.cors, "get_cors_headers",
                        lambda *args, **kwargs: kept_answer_made.append(args) or original(*args, **kwargs))
    for _ in range(3):
        response = client.get("/api/cars?limit=1", headers={"Origin": "http://front.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "http://front.example"
    assert worked_out == []  # flask-cors' own hook found the headers set
    assert len(kept_answer_made) == 1  # worked out for the first request, kept for the next two
    client.options("/api/cars/3", headers={"Origin": "http://front.example", "Access-Control-Request-Method": "PUT"})
    assert len(worked_out) == 1  # a preflight is flask-cors' to answer
    long_origin = "http://" + "x" * 300 + ".example"
    for _ in range(2):
        client.get("/ping", headers={"Origin": long_origin})
    assert len(kept_answer_made) == 3  # an Origin no browser sends is answered, not kept


def test_the_installed_flask_cors_is_the_release_the_kept_answers_were_written_for():
    # cms/api/cors.py calls two functions of flask_cors.core that are not flask-cors' documented
    # API: an upgrade must be a deliberate change of the pin, the constant and this module's tests.
    pinned = re.search(r"^\s*flask-cors==(\S+)", (ROOT / "setup.cfg").read_text(), re.MULTILINE).group(1)
    assert importlib.metadata.version("flask-cors") == pinned == cors.WRITTEN_FOR_FLASK_CORS
