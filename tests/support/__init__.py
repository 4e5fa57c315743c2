"""Helpers shared by the tests (fixtures stay in tests/conftest.py, which imports from here).

- `databases`: the admin URL, private databases (create, migrate, drop), the legacy schema,
  APP_TABLES, small catalog readers.
- `app`: settings of a test app, password hashes, the row factory, JWT payload decoding.
- `live_server`: the real service under granian (`python -m cms.server`), for concurrency and fault tests.
"""
