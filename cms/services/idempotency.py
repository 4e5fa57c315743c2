"""Idempotency keys: a retried creating POST gets the first answer back instead of writing again.

Called inside the transaction that performs the write (cms.api.idempotency opens it): `begin`
takes the key's lock, so a concurrent request with the same key waits for the first to end, and
then finds its answer; `record` stores the answer in the same transaction, so the key exists
exactly when the write does, on any instance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from psycopg import Connection

from cms.errors import Conflict, Invalid
from cms.repositories import idempotency as idempotency_repo

MAX_KEY_LENGTH = 255
# Expired keys deleted by each recorded one: the table stays at about a TTL's worth of keys.
EXPIRED_BATCH = 20
KEY_REUSED = "This Idempotency-Key was already used with another request"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    content_type: str
    body: bytes


def check_key(key: str) -> str:
    """The key when it is 1-255 visible ASCII characters, else a 400."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all("!" <= char <= "~" for char in key):
        raise Invalid(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
                      "(e.g. a random UUID)")
    return key


def request_hash(method: str, path: str, body: bytes) -> bytes:
    """What a retry must repeat: method, path and body, byte for byte."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def begin(conn: Connection, scope: str, key: str, fingerprint: bytes, ttl_hours: int) -> StoredAnswer | None:
    """Lock the key (inside the caller's transaction); the stored answer to replay, or None when the
    request is to run. The same key with another request is a 409."""
    idempotency_repo.lock_key(conn, scope, key)
    stored = idempotency_repo.find_key(conn, scope, key, ttl_hours)
    if stored is None:
        return None
    if bytes(stored["request_hash"]) != fingerprint:
        raise Conflict(KEY_REUSED)
    return StoredAnswer(stored["status"], stored["content_type"], bytes(stored["body"]))


def record(conn: Connection, scope: str, key: str, fingerprint: bytes, answer: StoredAnswer, ttl_hours: int) -> None:
    """Store the successful answer in the transaction of its write (an expired twin is replaced)."""
    idempotency_repo.delete_expired(conn, scope, key, ttl_hours, EXPIRED_BATCH)
    idempotency_repo.record_key(conn, scope=scope, key=key, request_hash=fingerprint, status=answer.status,
                                content_type=answer.content_type, body=answer.body)
