"""The one place that turns any exception into a JSON error `{error, details?}`."""

from __future__ import annotations

import logging

import psycopg
from flask import Flask, g, jsonify
from marshmallow import ValidationError
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

from cms.errors import (
    AppError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from cms.metrics import metrics

log = logging.getLogger("cms.errors")


HTTP_MESSAGES = {
    400: "Bad request",
    401: "No token",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
}


def error_response(status: int, message: str, details: dict | None = None):
    body = {"error": message}
    if details:
        body["details"] = details
    return jsonify(body), status


def _validation_message(details: dict) -> str:
    fields = ", ".join(sorted(str(k) for k in details)) if isinstance(details, dict) else ""
    return f"Invalid input: {fields}" if fields else "Invalid input"


# Each kind of domain error (cms.errors) as HTTP says it; a kind not named here is its nearest
# named ancestor's, and a bare AppError is a 400.
STATUS_OF_ERROR: dict[type[AppError], int] = {
    Invalid: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409, TooLarge: 413,
    TooManyRequests: 429, Unavailable: 503, AppError: 400,
}


def status_of(error: AppError) -> int:
    """The HTTP status of a domain error."""
    for kind in type(error).__mro__:
        if kind in STATUS_OF_ERROR:
            return STATUS_OF_ERROR[kind]
    return 400


DATABASE_RETRY_AFTER_SECONDS = 1


def register_error_handlers(app: Flask) -> None:
    """Every error leaves the service as JSON `{error, details?}`; never HTML, never a trace."""

    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        response, status = error_response(status_of(error), error.message, error.details)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        return response, status

    @app.errorhandler(ValidationError)
    def handle_validation_error(error: ValidationError):
        details = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        return error_response(400, _validation_message(details), details)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        status = error.code or 500
        message = getattr(error, "cms_message", None) or HTTP_MESSAGES.get(status, error.name)
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"Request body too large (limit {limit} bytes)" if limit else message
        response, code = error_response(status, message)
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response, code

    @app.errorhandler(psycopg.errors.UniqueViolation)
    def handle_unique(error):
        return error_response(409, "This record already exists")

    @app.errorhandler(psycopg.errors.ForeignKeyViolation)
    def handle_foreign_key(error):
        return error_response(409, "This record is still referenced by other records")

    @app.errorhandler(psycopg.errors.CheckViolation)
    def handle_check(error):
        return error_response(400, "A value is outside its allowed range")

    @app.errorhandler(psycopg.errors.DataError)
    def handle_data_error(error):
        # A value the schemas let through but PostgreSQL refuses (out of range, too long,
        # bad syntax): still the client's input, so a 400 rather than a 500.
        log.warning("data error request_id=%s: %s", g.get("request_id"), error)
        return error_response(400, "A value is invalid or out of range")

    @app.errorhandler(UnicodeEncodeError)
    def handle_unencodable_text(error):
        # e.g. a lone UTF-16 surrogate ("\ud800") in a JSON string: valid JSON, not valid UTF-8.
        return error_response(400, "Text must be valid Unicode (UTF-8)")

    @app.errorhandler(psycopg.errors.QueryCanceled)
    def handle_timeout(error):
        metrics().database_errors.labels("statement_timeout").inc()
        log.warning("statement timeout request_id=%s: %s", g.get("request_id"), error)
        return error_response(503, "The database took too long to answer; please retry")

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def handle_database_down(error):
        metrics().database_errors.labels("pool_timeout" if isinstance(error, PoolTimeout) else "unavailable").inc()
        log.warning("database unavailable request_id=%s: %s", g.get("request_id"), error)
        response, status = error_response(503, "Database unavailable; please retry shortly")
        # A failover ends within seconds; a client that retries a write sends its Idempotency-Key again.
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response, status

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("unhandled error request_id=%s", g.get("request_id"))
        return error_response(500, "Internal server error")
