"""One log format for the whole service: timestamp, level, logger, message."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    # The format above uses none of these: skip collecting them for every record (the logging
    # HOWTO's "Optimization"). Looking up the calling frame alone cost a few µs per request-log line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if not any(getattr(h, "_cms", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._cms = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("psycopg.pool").setLevel(max(logging.WARNING, root.level))
