"""One log format for the whole service, one line per record: plain text (the default) or, with
LOG_FORMAT=json, one JSON object per line for log shippers.

Text: `timestamp level logger message`. JSON: `time` (UTC, ISO 8601), `level`, `logger`,
`message`, `pid`, an exception's traceback as `exc`, and the request log's fields (method, path,
query, status, duration_ms, request_id, user_id, client) as keys of their own.

Logged values come from clients (a request's path, a database error quoting what was sent): a
newline in one would start a line of its own that reads like a record (a forged log line), and a
terminal escape would rewrite what an operator sees. The text handler writes every record's
message through escape_control, and indents the lines of a traceback, so that every line at the
left margin is a record the service wrote; JSON escapes them by itself.

Libraries speak at WARNING and above (libvips' INFO lines, psycopg's pool chatter), and Python's
warnings (a deprecation in psycopg, …) become records of the logger `py.warnings` instead of
several raw lines on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import textwrap
import time
from contextlib import contextmanager

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
FORMATS = ("text", "json")
# C0 and C1 control characters (tab, CR, LF, ESC, NEL…) and Unicode's line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TRACEBACK_INDENT = "    "
# Loggers of libraries that say nothing an operator needs below WARNING.
LIBRARY_LOGGERS = ("pyvips", "psycopg", "psycopg.pool", "urllib3", "PIL", "apispec", "py.warnings")
# The attribute of a record that holds the request log's fields (cms.api.envelope).
REQUEST_FIELDS = "cms_request"

_format = "text"  # the process's LOG_FORMAT, once configure_logging has run
_startup_said = False  # see startup_said_by_main_process


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


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (json.dumps escapes every control character)."""

    def __init__(self, logger_name: str | None = None):
        super().__init__()
        self.logger_name = logger_name  # granian's records are named "_granian": shown as "granian"

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        entry = {
            "time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": self.logger_name or record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        fields = getattr(record, REQUEST_FIELDS, None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def is_json() -> bool:
    """Whether this process logs JSON (LOG_FORMAT=json)."""
    return _format == "json"


def formatter(log_format: str | None = None, *, text_format: str = FORMAT, logger_name: str | None = None):
    """The formatter of `log_format` (default: the one configure_logging chose for this process)."""
    if (log_format or _format) == "json":
        return JsonFormatter(logger_name)
    return EscapingFormatter(text_format)


def granian_formatter() -> logging.Formatter:
    """granian's own lines (cms/server.py's log config), in the service's format."""
    return formatter(text_format="%(asctime)s %(levelname)s granian %(message)s", logger_name="granian")


class _StartupFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_startup_said and record.levelno == logging.WARNING and record.name.startswith("cms"))


@contextmanager
def startup_said_by_main_process():
    """While a server worker loads the app: the service's WARNING records (an unset secret, Telegram
    disabled) were said once by the main process's start-up check, so each worker does not repeat
    them. Errors still pass."""
    global _startup_said
    _startup_said = True
    try:
        yield
    finally:
        _startup_said = False


def configure_logging(level: str, log_format: str = "text") -> None:
    """The service's handler on the root logger (once; its format follows `log_format`), the level,
    the libraries' levels, and Python's warnings as records. An unknown level or format is taken
    as INFO or text: the settings' validation refuses it right after."""
    global _format
    # The formats use none of these: skip collecting them for every record (the logging HOWTO's
    # "Optimization"). Looking up the calling frame alone cost a few µs per request-log line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    _format = log_format if log_format in FORMATS else "text"
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_cms", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_StartupFilter())
        handler._cms = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(formatter(_format))
    root.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.setLevel(max(library.level, logging.WARNING, root.level))  # pyvips may be at ERROR already
    logging.captureWarnings(True)
