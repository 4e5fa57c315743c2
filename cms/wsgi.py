"""WSGI entry point of the installed package: `gunicorn --config gunicorn.conf.py cms.wsgi:app`."""

import logging
import sys

from cms import create_app
from cms.config import ConfigError
from cms.db import StartupError

try:
    app = create_app()
except (StartupError, ConfigError) as error:
    logging.getLogger("cms").critical("cannot start: %s", error)
    # 3 tells the gunicorn master that the worker could not boot: it stops instead of retrying.
    sys.exit(3)
