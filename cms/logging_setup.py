"""One log format for the whole service: timestamp, level, logger, message; one line per record.

Logged values come from clients (a request's path, a database error quoting what was sent): a
newline in one would start a line of its own that reads like a record (a forged log line), and a
terminal escape would rewrite what an operator sees. The service's handler writes every record's
message through escape_control, and indents the lines of a traceback, so that every line at the
left margin is a record the service wrote.
"""

from __future__ import annotations

import logging
import re
import sys
import textwrap

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# C0 and C1 control characters (tab, CR, LF, ESC, NEL…) and Unicode's line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TRACEBACK_INDENT = "    "


def _escaped(match: re.Match) -> str:
    return repr(match.group())[1:-1]  # "\n" -> "\\n", "\x1b" -> "\\x1b", "\u2028" -> "\\u2028"


def escape_control(text: str) -> str:
    """`text` with each control character written as its Python escape: one printable line."""
    return _CONTROL.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """logging.Formatter whose message is one line (escape_control) and whose traceback or stack
    lines are indented below it."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_control(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        # Formatted here rather than through record.exc_text: another handler's formatter may have
        # cached it there unindented.
        extra = [self.formatException(record.exc_info) if record.exc_info else record.exc_text,
                 self.formatStack(record.stack_info) if record.stack_info else None]
        for block in extra:
            if block:
                text += "\n" + textwrap.indent(block, TRACEBACK_INDENT, lambda line: True)
        return text


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
        handler.setFormatter(EscapingFormatter(FORMAT))
        handler._cms = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("psycopg.pool").setLevel(max(logging.WARNING, root.level))
