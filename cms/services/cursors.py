"""Opaque, tamper-evident page cursors for GET /api/cars (Link: <…>; rel="next").

A cursor names the last row of a page by its sort key and id, for one sort order and one set
of filters: the next page is "the rows after this one", which an index on (sort key, id) finds
at the same cost at any depth (unlike OFFSET, which reads and throws away every row before).

It is itsdangerous' URL-safe signed JSON of [sort, key, id, filters digest], signed with a key
derived from JWT_SECRET for this purpose only (the salt: a cursor cannot pass for anything else
signed with that secret, nor the reverse; a new cursor format takes a new salt, and older
cursors are then refused). The signature makes a changed cursor a 400 before any of it reaches
SQL, and the filters digest makes a cursor valid only with the query parameters it was made for
(the Link URL repeats them). The key is the sort key as PostgreSQL printed it (text), cast back
by the query.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from cms.errors import Invalid

SALT = "cms.cars.cursor.v2"
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


@lru_cache(maxsize=4)
def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def encode(position: Position, filters: dict, secret: str) -> str:
    """The cursor text for the page after `position` (same filters)."""
    return _serializer(secret).dumps([position.sort, position.key, position.id, filters_digest(filters)])


def decode(cursor: str, *, sort: str, filters: dict, secret: str) -> Position:
    """The position a cursor names; Invalid (400) when it was altered, is malformed, or was made
    for another sort order or other filters."""
    invalid = Invalid("Invalid cursor: follow the Link header of the previous page",
                      {"cursor": ["Not a cursor of this list."]})
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        document = _serializer(secret).loads(cursor)
    except BadSignature:  # altered, truncated, made with another key or salt, or not a cursor at all
        raise invalid from None
    if not (isinstance(document, list) and len(document) == 4):
        raise invalid
    cursor_sort, key, row_id, digest = document
    if cursor_sort != sort or digest != filters_digest(filters):
        raise Invalid("This cursor belongs to another sort order or other filters",
                      {"cursor": ["Not a cursor of this list."]})
    if not (key is None or isinstance(key, str)) or isinstance(row_id, bool) or not isinstance(row_id, int):
        raise invalid
    return Position(sort, key, row_id)
