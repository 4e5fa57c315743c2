"""Validators of public reads: what an ETag says, so that `If-None-Match` can be answered
(304) without running the read's own queries.

A validator names the database's state (data_version, kept by triggers in the database, so any
writer changes it: another instance, a script, psql) and what else shapes the bytes of the
answer without being in that state: the run-time settings this process applied (cached up to
2 s, and a discount starts and ends by the clock), the base of absolute image URLs, and the
format of the answers (FORMAT, changed with the code that writes them). Read it before the data,
on the same connection: data at least as new as the validator may be sent under it (the next
revalidation sends it again), never older data.

So the counter a 200 answer is sent under need not be read for that answer: one read earlier on
the same connection is as good, as what a connection sees only moves forward (it reaches one
PostgreSQL, directly or through a PgBouncer over one host; a primary commits and a replica
replays in order). Each connection keeps the counter it last read for RECENT_SECONDS; only a
request that could be answered 304 (one with If-None-Match) reads it afresh, so that a change is
never answered "not modified". Under load that takes one statement of two or three off every
public read (docs/decisions.md, "Validators of public reads").
"""

from __future__ import annotations

import functools
import hashlib
import time
import weakref

from psycopg import Connection

from cms.repositories import revalidation as revalidation_repo
from cms.services.settings import RuntimeSettings

# Change it with any change to the bytes a public read sends for the same data.
FORMAT = "2026-12-07"


# How long a connection's last read counter may stand for the database's state in a 200 answer
# (0: never; every answer reads it).
# Longer saves more reads, but a client whose answer was sent within this time after a change
# downloads it once more at its next revalidation (its tag names the state before the change).
RECENT_SECONDS = 0.1

# connection -> (counter, time.monotonic() when read); a connection the pool drops drops its entry.
_recent: weakref.WeakKeyDictionary[Connection, tuple[int, float]] = weakref.WeakKeyDictionary()


def validator(conn: Connection, *, runtime: RuntimeSettings | None, base_url: str, fresh: bool = True) -> str:
    """The opaque tag of the answers built next from this connection's view of the database.

    fresh=False (the tag of a 200 answer, not compared with the client's): the counter this
    connection read up to RECENT_SECONDS ago serves, else it is read now.
    """
    now = time.monotonic()
    recent = None if fresh else _recent.get(conn)
    if recent is not None and now - recent[1] < RECENT_SECONDS:
        version = recent[0]
    else:
        version = revalidation_repo.data_version(conn)
        _recent[conn] = (version, now)
    return tag_of(version, runtime=runtime, base_url=base_url)


def tag_of(version: int, *, runtime: RuntimeSettings | None, base_url: str) -> str:
    """The tag of the answers built under these settings from the state `version` names."""
    shown = "-" if runtime is None or not runtime.discount_active() else \
        f"{runtime.discount_percent}|{runtime.discount_label}"
    return f"{version}-{_context(base_url, shown)}"


@functools.lru_cache(maxsize=64)
def _context(base_url: str, shown: str) -> str:
    """The short hash of what shapes the answers besides the database (a few values per process)."""
    return hashlib.blake2b(f"{FORMAT}|{base_url}|{shown}".encode(), digest_size=6).hexdigest()
