"""The test app's settings, password hashes, a factory of rows, and reading tokens like the frontend."""

from __future__ import annotations

import base64
import functools
import json
import uuid

import bcrypt
import psycopg
from psycopg import sql as pgsql

TEST_JWT_SECRET = "test-secret-" + "x" * 40
DEFAULT_PASSWORD = "Password123!"


def app_config(database_url: str, **overrides) -> dict:
    config = {
        "env": "test",
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "pool_min_size": 1,
        "pool_max_size": 8,
        "pool_timeout": 3.0,
        "telegram_enabled": False,
    }
    config.update(overrides)
    return config


@functools.cache
def password_hash(password: str) -> str:
    """bcrypt hash at cost 10, computed once per password per session."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()


class Factory:
    """Insert rows straight into the database and build auth headers."""

    def __init__(self, conn: psycopg.Connection, app):
        self.conn = conn
        self.app = app
        self._count = 0

    def user(self, role: str = "user", *, email: str | None = None, name: str | None = None,
             password: str = DEFAULT_PASSWORD, is_active: bool = True, **columns) -> dict:
        self._count += 1
        values = {
            "name": name or f"{role.title()} {self._count}",
            "email": email or f"{role}{self._count}-{uuid.uuid4().hex[:6]}@example.com",
            "password_hash": password_hash(password),
            "role": role,
            "is_active": is_active,
            **columns,
        }
        row = self._insert("users", values)
        row["password"] = password
        return row

    def car(self, seller: dict, **columns) -> dict:
        self._count += 1
        values = {
            "title": f"Car {self._count}",
            "price": 10000 + self._count,
            "description": "A fine car",
            "seller_id": seller["id"],
            "status": "available",
            "brand": "Brand",
            "model": "Model",
            "year": 2020,
            "fuel_type": "Gasoline",
            "image": None,
            **columns,
        }
        return self._insert("cars", values)

    def row(self, table: str, **columns) -> dict:
        """Insert any row; returns it."""
        return self._insert(table, columns)

    def token(self, user: dict) -> str:
        from cms.api.tokens import issue_token

        with self.app.app_context():
            return issue_token(user)

    def headers(self, user: dict) -> dict:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def _insert(self, table: str, values: dict) -> dict:
        statement = pgsql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
            pgsql.Identifier(table),
            pgsql.SQL(", ").join(pgsql.Identifier(k) for k in values),
            pgsql.SQL(", ").join(pgsql.Placeholder(k) for k in values),
        )
        from psycopg.types.json import Jsonb

        params = {k: Jsonb(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
        return self.conn.execute(statement, params).fetchone()


def fetch_row(conn: psycopg.Connection, table: str, row_id: int) -> dict | None:
    """The row of `table` with this id as it is now (None when there is none)."""
    statement = pgsql.SQL("SELECT * FROM {} WHERE id = %s").format(pgsql.Identifier(table))
    return conn.execute(statement, (row_id,)).fetchone()


def order_row(conn: psycopg.Connection, order_id: int) -> dict | None:
    return fetch_row(conn, "orders", order_id)


def car_row(conn: psycopg.Connection, car_id: int) -> dict | None:
    return fetch_row(conn, "cars", car_id)


def fail_after(monkeypatch, module, name: str, error: Exception) -> None:
    """Make `module.name` do its work and then raise `error`: a fault after a write inside a
    transaction, for tests that check the whole transaction is rolled back."""
    real = getattr(module, name)

    def run_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise error

    monkeypatch.setattr(module, name, run_then_fail)


class OutboxMessages:
    """The texts queued in notification_outbox, oldest first."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    @property
    def messages(self) -> list[str]:
        rows = self.conn.execute("SELECT message FROM notification_outbox ORDER BY id").fetchall()
        return [row["message"] for row in rows]


def atob_payload(token: str) -> dict:
    """Decode a JWT payload the way the frontend does: atob(token.split('.')[1]), i.e. plain base64."""
    parts = token.split(".")
    assert len(parts) == 3
    payload = parts[1]
    assert "-" not in payload and "_" not in payload, "atob cannot read base64url's - and _"
    padded = payload + "=" * (-len(payload) % 4)
    return json.loads(base64.b64decode(padded, validate=True))


# The error of a path id that is not a positive whole number in ASCII digits.
BAD_ID = "Invalid id in the URL: it must be a positive whole number"


def error_of(response) -> str:
    """The message of a JSON error body ({error, details?}); fails on any other body."""
    body = response.get_json()
    assert isinstance(body, dict) and "error" in body and set(body) <= {"error", "details"}, body
    return body["error"]
