"""Validators of public reads: what an ETag says, so that `If-None-Match` can be answered
(304) without running the read's own queries.

A validator names the database's state (data_version, kept by triggers in the database, so any
writer changes it: another instance, a script, psql) and what else shapes the bytes of the
answer without being in that state: the run-time settings this process applied (cached up to
2 s, and a discount starts and ends by the clock), the base of absolute image URLs, and the
format of the answers (FORMAT, changed with the code that writes them). Read it before the data,
on the same connection: data at least as new as the validator may be sent under it (the next
revalidation sends it again), never older data.
"""

from __future__ import annotations

import hashlib

from psycopg import Connection

from cms.repositories import revalidation as revalidation_repo
from cms.services.settings import RuntimeSettings

# Change it with any change to the bytes a public read sends for the same data.
FORMAT = "2026-12-07"


def validator(conn: Connection, *, runtime: RuntimeSettings | None, base_url: str) -> str:
    """The opaque tag of the answers built now from this connection's view of the database."""
    version = revalidation_repo.data_version(conn)
    shown = "-" if runtime is None or not runtime.discount_active() else \
        f"{runtime.discount_percent}|{runtime.discount_label}"
    context = hashlib.blake2b(f"{FORMAT}|{base_url}|{shown}".encode(), digest_size=6).hexdigest()
    return f"{version}-{context}"
