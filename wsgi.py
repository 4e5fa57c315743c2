"""WSGI entry point: `gunicorn --config gunicorn.conf.py wsgi:app` (the app is cms.wsgi's)."""

from cms.wsgi import app

__all__ = ["app"]
