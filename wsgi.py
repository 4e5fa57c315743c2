"""WSGI entry point for any WSGI server run from the checkout (`wsgi:app`; the app is cms.wsgi's).
`python -m cms.server` serves cms.wsgi:app itself."""

from cms.wsgi import app

__all__ = ["app"]
