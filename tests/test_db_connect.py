"""db.connect(): every one-off connection gets the pool's session settings and timeouts."""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path

from cms import db
from cms.config import Settings
from cms.repositories import outbox as outbox_repo
from cms.services import outbox

CMS_DIR = Path(__file__).resolve().parent.parent / "cms"
SESSION_SETTINGS = ("statement_timeout", "TimeZone", "DateStyle", "jit", "max_parallel_workers_per_gather",
                    "random_page_cost")


def _session(conn) -> dict[str, str]:
    return {name: next(iter(conn.execute(f"SHOW {name}").fetchone().values())) for name in SESSION_SETTINGS}


def test_a_one_off_connection_has_the_same_session_as_a_pooled_one(make_app, database_url):
    app = make_app(statement_timeout_ms=4321)
    with app.app_context():
        pooled = _session(db.connection())

    with db.connect(database_url, settings=app.config["CMS_SETTINGS"]) as conn:
        one_off = _session(conn)

    assert one_off == pooled
    assert one_off["statement_timeout"] == "4321ms"
    assert one_off["TimeZone"] == "UTC"
    assert conn.autocommit is True


def test_connect_takes_the_statement_timeout_of_the_settings_or_an_explicit_one(database_url):
    with db.connect(database_url, settings=Settings(statement_timeout_ms=2500)) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == {"statement_timeout": "2500ms"}
    with db.connect(database_url, settings=Settings(), statement_timeout_ms=0) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == {"statement_timeout": "0"}


def test_the_notification_worker_gives_up_a_blocked_statement_after_the_statement_timeout(
        database_url, sql, caplog):
    with sql.transaction():
        outbox_repo.enqueue(sql, "test", "waiting behind a lock")
    worker_settings = Settings(database_url=database_url, statement_timeout_ms=300)
    client = outbox.TelegramClient("http://127.0.0.1:9", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", "42",
                                   timeout=1)
    caplog.set_level(logging.WARNING, logger="cms.services.outbox")
    with sql.transaction():
        sql.execute("LOCK TABLE notification_outbox IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=outbox.run_worker, args=(database_url, client),
                                  kwargs={"once": True, "interval": 0.01, "settings": worker_settings})
        worker.start()
        worker.join(timeout=10)
        stopped_while_locked = not worker.is_alive()
    worker.join()

    assert stopped_while_locked
    assert "canceling statement due to statement timeout" in caplog.text


def _opens_a_connection(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "connect":
        return isinstance(node.value, ast.Name) and node.value.id == "psycopg"
    if isinstance(node, ast.ImportFrom) and node.module == "psycopg":
        return any(alias.name == "connect" for alias in node.names)
    return False


def test_no_module_outside_cms_db_opens_its_own_connection():
    offenders = [
        f"{path.relative_to(CMS_DIR)}:{node.lineno}"
        for path in sorted(CMS_DIR.rglob("*.py")) if path.parent != CMS_DIR / "db"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if _opens_a_connection(node)
    ]

    assert offenders == [], "use cms.db.connect() instead of psycopg.connect"
