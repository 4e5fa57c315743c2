"""Domain errors: raised by services (and by schemas for a sentence a person can read).

No imports of ours and no Flask: every layer may raise them; cms.api.errors turns them,
and every other exception, into the JSON `{error, details?}` answer.
"""

from __future__ import annotations


class AppError(Exception):
    """An error the client can act on: what went wrong (`message`, `details`), not how HTTP says it
    (cms.api.errors maps each kind to its status). A bare AppError is a request the service refuses."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details


class Invalid(AppError):
    """The request's data breaks a rule."""


class Unauthorized(AppError):
    """The caller is not signed in, or its credentials are wrong."""


class Forbidden(AppError):
    """The caller may not do this."""

    def __init__(self, message: str = "Forbidden", details: dict | None = None):
        super().__init__(message, details)


class NotFound(AppError):
    """No such thing (or none the caller may see)."""

    def __init__(self, message: str = "Not found", details: dict | None = None):
        super().__init__(message, details)


class Conflict(AppError):
    """The request contradicts the current state (taken email, car already sold, ...)."""


class TooLarge(AppError):
    """The request's body is over its limit."""


class Unavailable(AppError):
    """The service cannot do it now (maintenance, busy); a retry later may succeed."""


class TooManyRequests(AppError):
    """Slow down: `retry_after` seconds until the next attempt may succeed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retryAfter": retry_after})
        self.retry_after = retry_after
