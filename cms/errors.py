"""Domain errors: raised by services (and by schemas for a sentence a person can read).

No imports of ours and no Flask: every layer may raise them; cms.api.errors turns them,
and every other exception, into the JSON `{error, details?}` answer.
"""

from __future__ import annotations


class AppError(Exception):
    """An error the client can act on; `status` is the HTTP status code."""

    status = 400

    def __init__(self, message: str, details: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if status is not None:
            self.status = status


class Invalid(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401


class Forbidden(AppError):
    status = 403

    def __init__(self, message: str = "Forbidden", details: dict | None = None):
        super().__init__(message, details)


class NotFound(AppError):
    status = 404

    def __init__(self, message: str = "Not found", details: dict | None = None):
        super().__init__(message, details)


class Conflict(AppError):
    status = 409


class Unavailable(AppError):
    status = 503


class TooManyRequests(AppError):
    """Slow down: `retry_after` seconds until the next attempt may succeed (Retry-After header)."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retryAfter": retry_after})
        self.retry_after = retry_after
