"""Opaque, tamper-evident page cursors for GET /api/cars (Link: <…>; rel="next").

A cursor names the last row of a page by its sort key and id, for one sort order and one set
of filters: the next page is "the rows after this one", which an index on (sort key, id) finds
at the same cost at any depth (unlike OFFSET, which reads and throws away every row before).

    <payload>.<signature>   both base64url without padding
    payload   = JSON [version, sort, key, id, filters digest]
    signature = the first 16 bytes of HMAC-SHA256(secret, "cms-cars-cursor." + payload)

The signature makes a changed cursor a 400 before any of it reaches SQL, and the filters digest
makes a cursor valid only with the query parameters it was made for (the Link URL repeats
them). The key is the sort key as PostgreSQL printed it (text), cast back by the query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal

from cms.errors import Invalid

VERSION = 1
_CONTEXT = b"cms-cars-cursor."
_SIGNATURE_BYTES = 16
MAX_CURSOR_CHARS = 512


@dataclass(frozen=True)
class Position:
    """Where a page ends: the sort order, the last row's sort key (PostgreSQL text, or None for a
    NULL key) and its id."""

    sort: str
    key: str | None
    id: int


def filters_digest(filters: dict) -> str:
    """A short digest of the list filters (not sort, limit, offset or cursor), order-independent."""
    canonical = json.dumps(
        {name: str(value) if isinstance(value, Decimal) else value
         for name, value in sorted(filters.items()) if value is not None},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def encode(position: Position, filters: dict, secret: str) -> str:
    """The cursor text for the page after `position` (same filters)."""
    document = [VERSION, position.sort, position.key, position.id, filters_digest(filters)]
    payload = _b64(json.dumps(document, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_sign(secret, payload))}"


def decode(cursor: str, *, sort: str, filters: dict, secret: str) -> Position:
    """The position a cursor names; Invalid (400) when it was altered, is malformed, or was made
    for another sort order or other filters."""
    invalid = Invalid("Invalid cursor: follow the Link header of the previous page",
                      {"cursor": ["Not a cursor of this list."]})
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
        raise invalid
    payload, signature = cursor.split(".")
    try:
        given = _unb64(signature)
        document = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not hmac.compare_digest(given, _sign(secret, payload)):
        raise invalid
    if not (isinstance(document, list) and len(document) == 5 and document[0] == VERSION):
        raise invalid
    _, cursor_sort, key, row_id, digest = document
    if cursor_sort != sort or digest != filters_digest(filters):
        raise Invalid("This cursor belongs to another sort order or other filters",
                      {"cursor": ["Not a cursor of this list."]})
    if not (key is None or isinstance(key, str)) or isinstance(row_id, bool) or not isinstance(row_id, int):
        raise invalid
    return Position(sort, key, row_id)
