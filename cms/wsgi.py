"""WSGI entry point of the installed package, served by `python -m cms.server` (cms/server.py)."""

import logging
import sys

from cms import create_app
from cms.config import ConfigError
from cms.db import StartupError

try:
    app = create_app()
except (StartupError, ConfigError) as error:
    logging.getLogger("cms").critical("cannot start: %s", error)
    # A worker that exits before it has loaded the app failed to boot: cms.server stops instead of
    # respawning it (3, gunicorn's status for it, is also the server's exit status then).
    sys.exit(3)
