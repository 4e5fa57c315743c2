"""Every error leaves as JSON {error, details?}: never HTML, never a stack trace. CORS preflight."""

from __future__ import annotations

import logging

import pytest
from flask import Blueprint, jsonify

from cms import db
from cms.errors import Conflict, Unavailable

boom = Blueprint("test_errors", __name__, url_prefix="/test-errors")


@boom.get("/crash")
def crash():
    raise RuntimeError("secret detail that must not leak")


@boom.get("/conflict")
def conflict():
    raise Conflict("This car was sold meanwhile")


@boom.get("/unavailable")
def unavailable():
    raise Unavailable("Try later")


@boom.post("/duplicate")
def duplicate():
    with db.transaction() as conn:
        for _ in range(2):
            conn.execute(
                "INSERT INTO users (name, email, password_hash, role) VALUES ('D', 'dup@example.com', 'x', 'user')"
            )
    return jsonify({})


@boom.post("/bad-value")
def bad_value():
    db.connection().execute("SELECT %s::integer", ("99999999999",))
    return jsonify({})


@boom.get("/things/<id:thing_id>")
def thing(thing_id):
    return jsonify({"id": thing_id})


@pytest.fixture
def error_app(make_app):
    app = make_app(max_request_bytes=2048)
    app.register_blueprint(boom)
    return app


@pytest.fixture
def error_client(error_app):
    return error_app.test_client()


def assert_json_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert "<html" not in response.get_data(as_text=True).lower()
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert set(body) <= {"error", "details"}
    if error is not None:
        assert body["error"] == error
    return body


def test_malformed_json_is_400(client):
    response = client.post("/api/auth/login", data='{"email": ', content_type="application/json")
    assert_json_error(response, 400, "Malformed JSON body")


def test_validation_errors_are_400_with_details(client):
    body = assert_json_error(client.post("/api/auth/login", json={"email": 3}), 400)
    assert set(body["details"]) == {"email", "password"}
    assert body["error"] == "Invalid input: email, password"


def test_a_non_numeric_id_in_the_url_is_400(error_client):
    assert error_client.get("/test-errors/things/12").get_json() == {"id": 12}
    for bad in ("abc", "-1", "1.5", "0", "99999999999"):
        assert_json_error(error_client.get(f"/test-errors/things/{bad}"), 400)


def test_401_and_403_are_json(client, factory):
    assert_json_error(client.get("/api/users"), 401, "No token")
    assert_json_error(client.get("/api/users", headers={"Authorization": "Bearer x.y.z"}), 401, "Invalid token")
    assert_json_error(client.get("/api/users", headers=factory.headers(factory.user())), 403, "Forbidden")


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/users/profile/extra", "/"])
def test_unknown_routes_are_404_json(client, path):
    assert_json_error(client.get(path), 404, "Not found")


def test_a_wrong_method_is_405_json_with_allow(client):
    response = client.delete("/ping")
    assert_json_error(response, 405, "Method not allowed")
    assert "GET" in response.headers["Allow"]
    assert_json_error(client.get("/api/auth/login"), 405)


def test_a_conflict_is_409_json(error_client):
    assert_json_error(error_client.get("/test-errors/conflict"), 409, "This car was sold meanwhile")


def test_a_unique_violation_is_409_json_and_rolls_back(error_client, sql):
    assert_json_error(error_client.post("/test-errors/duplicate"), 409)
    assert sql.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0


def test_an_out_of_range_value_reaching_the_database_is_400_not_500(error_client):
    assert_json_error(error_client.post("/test-errors/bad-value"), 400)


def test_an_unavailable_error_is_503_json(error_client):
    assert_json_error(error_client.get("/test-errors/unavailable"), 503, "Try later")


def test_a_body_over_the_limit_is_413_json(error_client):
    response = error_client.post("/api/auth/login", data='{"email": "' + "a" * 3000 + '"}',
                                content_type="application/json")
    body = assert_json_error(response, 413)
    assert "2048" in body["error"]
    small = error_client.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    assert small.status_code == 400


def test_an_unexpected_error_is_500_with_a_request_id_and_a_logged_traceback(error_client, caplog):
    caplog.set_level(logging.ERROR)

    response = error_client.get("/test-errors/crash")

    assert response.status_code == 500
    assert response.get_json() == {"error": "Internal server error"}
    assert "secret detail" not in response.get_data(as_text=True)
    request_id = response.headers["X-Request-Id"]
    assert request_id
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and request_id in r.getMessage()]
    assert logged, "the error is logged with the request id"
    assert logged[0].exc_info and logged[0].exc_info[0] is RuntimeError
    assert "secret detail that must not leak" in caplog.text


def test_a_request_id_sent_by_the_client_is_kept(client):
    response = client.get("/ping", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    assert len(client.get("/ping").headers["X-Request-Id"]) >= 16


def test_cors_preflight_allows_the_frontend(client):
    response = client.options("/api/cars/3", headers={
        "Origin": "http://localhost:5173",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    })
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] in {"*", "http://localhost:5173"}
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods


def test_cors_answers_errors_too(client):
    response = client.get("/api/users", headers={"Origin": "http://localhost:5173"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] in {"*", "http://localhost:5173"}


def test_cors_origins_come_from_the_configuration(make_app):
    client = make_app(cors_origins=("http://front.example",)).test_client()
    allowed = client.get("/ping", headers={"Origin": "http://front.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://front.example"
    refused = client.get("/ping", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_domain_errors_say_what_went_wrong_and_the_api_says_the_status():
    """cms.errors knows nothing of HTTP; cms.api.errors names a status for every kind it defines."""
    import inspect

    from cms import errors as domain
    from cms.api.errors import STATUS_OF_ERROR, status_of

    kinds = [kind for _, kind in inspect.getmembers(domain, inspect.isclass) if issubclass(kind, domain.AppError)]
    assert all(not hasattr(kind, "status") for kind in kinds)
    assert sorted(kind.__name__ for kind in kinds) == sorted(kind.__name__ for kind in STATUS_OF_ERROR)
    assert status_of(domain.Conflict("taken")) == 409
    assert status_of(domain.TooManyRequests("slow down", retry_after=3)) == 429

    class Sold(domain.Conflict):  # a finer kind takes its ancestor's status
        pass

    assert status_of(Sold("sold")) == 409
