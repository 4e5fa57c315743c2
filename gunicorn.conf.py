"""gunicorn settings for the CMS service (override any of them on the command line)."""

import json
import os
import sys

import gunicorn.util
from dotenv import load_dotenv

# The service reads .env too (cms.config); load it here first so PORT and WEB_* set there count.
load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)

# Production listens on every interface (behind a load balancer or in a container) unless HOST
# names one; `cms serve` (development) passes --bind 127.0.0.1:PORT instead.
bind = f"{os.environ.get('HOST', '').strip() or '0.0.0.0'}:{os.environ.get('PORT', '4000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
control_socket_disable = True  # several instances may run on one machine (see stack notes)
accesslog = None
errorlog = "-"


def on_starting(server):
    """Check settings and database once in the master, so a bad start is one clear line."""
    from cms.config import ConfigError, load_settings, validate, validate_for_serving
    from cms.db import StartupError, open_pool

    try:
        settings = validate(load_settings())
        validate_for_serving(settings)
        open_pool(settings.with_overrides(pool_min_size=1, pool_max_size=1)).close()
    except (StartupError, ConfigError) as error:
        print(f"cms: cannot start: {error}", file=sys.stderr)
        sys.exit(1)


def _write_json_error(sock, status_int, reason, mesg):
    """gunicorn's own refusals (414 URI too long, 431 headers too large, 400 malformed request line)
    as JSON {error}, like every other error of the service, instead of gunicorn's HTML page."""
    body = json.dumps({"error": f"{reason}: {mesg}" if mesg else reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


gunicorn.util.write_error = _write_json_error  # workers call util.write_error; they fork from this process
