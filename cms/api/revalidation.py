"""Revalidation of public reads (declare(..., revalidate=True) and the car detail lane): an ETag
naming the database's state (cms.services.revalidation), and 304 Not Modified, without running
the read's own queries, when If-None-Match holds it."""

from __future__ import annotations

from flask import current_app

from cms import db
from cms.api.context import public_base_url, runtime_settings
from cms.services import revalidation as revalidation_service

# Browsers and shared caches (a CDN) may store a public read but must revalidate it before each
# use: a 304 costs one small query, and a client sees its own writes at once (the legacy client
# reloads the whole list after each of its writes).
CACHE_CONTROL = "no-cache"


def validator_headers(tag: str) -> list[tuple[str, str]]:
    """ETag (weak: gzip-compressed or not, the same data) and Cache-Control of a public read."""
    return [("ETag", f'W/"{tag}"'), ("Cache-Control", CACHE_CONTROL)]


def current_tag(*, conditional: bool) -> str:
    """The validator of this request's answer, from the request's connection (read before the data).
    conditional: the request has If-None-Match, so the tag is compared with the client's and the
    counter is read now; else the connection's recent reading serves (cms.services.revalidation)."""
    return revalidation_service.validator(db.connection(), runtime=runtime_settings(), base_url=public_base_url(),
                                          fresh=conditional)


def not_modified(tag: str):
    """304 with the validator's headers and no body."""
    response = current_app.response_class(status=304)
    response.headers.extend(validator_headers(tag))
    return response
