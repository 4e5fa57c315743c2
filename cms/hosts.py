"""The Host headers the service answers (ALLOWED_HOSTS), checked by werkzeug in both places that
read one: Flask (its TRUSTED_HOSTS) and the car detail lane (werkzeug.wsgi.get_host).

werkzeug 3.1 compares a Host with each trusted name as it is, case included, and marks "any
subdomain" with a leading "." (which also matches the name itself), not with "*.". Host names are
case-insensitive (RFC 9110, section 4.2.3), and operators write "*.example.com": ALLOWED_HOSTS is
turned into werkzeug's form once, and every request's Host is lower-cased before either reads it.
"""

from __future__ import annotations


def trusted_hosts(allowed_hosts: tuple[str, ...]) -> list[str]:
    """ALLOWED_HOSTS in werkzeug's form: lower case, "*.example.com" written ".example.com"."""
    return [host.lower().removeprefix("*") for host in allowed_hosts]


class LowerCaseHost:
    """WSGI middleware: the request's Host header in lower case (inside ProxyFix, so that a
    forwarded host is lower-cased too)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if host is not None and not host.islower():
            environ["HTTP_HOST"] = host.lower()
        return self.wsgi_app(environ, start_response)
