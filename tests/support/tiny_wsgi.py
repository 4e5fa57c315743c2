"""The smallest WSGI app, for tests of the process manager (cms/server.py) that need no database."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
