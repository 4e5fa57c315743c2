"""The service behind PgBouncer in transaction pooling mode (the real pgbouncer, Debian's 1.18).

PgBouncer runs as a private process on a free port in front of the shared test server (see
tests/support/pgbouncer.py); where the binary is missing these tests skip with a printed reason
(CI installs it: .ci/run).

The wrong-rows proof: in transaction mode PgBouncer hands a server connection to another client
between transactions. psycopg prepares a statement on the server once it has run a few times
(`prepare_threshold`), naming it `_pg3_0`, `_pg3_1`... per client connection, so two clients
whose statements share a name and a parameter count can execute each other's statement and get
each other's rows, with no error. Two clients are made to prepare on two different server
connections (one holds a transaction open while the other runs), then alternate.
"""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner
from support.app import TEST_JWT_SECRET, app_config
from support.databases import create_database, database_name, drop_database, unique_database_name
from support.live_server import start_server
from support.pgbouncer import PgBouncer, pgbouncer_or_skip

from cms import create_app, db
from cms.cli import main as cms_command
from cms.config import load_settings

pytestmark = pytest.mark.slow

QUERIES = {
    "a": "SELECT %(n)s::int AS n, 'a'::text AS client",
    "b": "SELECT %(n)s::int AS n, 'b'::text AS client",
}
ROUNDS = 30


@pytest.fixture(scope="module")
def pgbouncer():
    """PgBouncer in transaction mode with four server connections per database."""
    bouncer = PgBouncer(binary=pgbouncer_or_skip(), pool_size=4).start()
    yield bouncer
    bouncer.stop()


def alternate(url: str, **connect_kwargs) -> tuple[int, list[str]]:
    """Two new connections alternating their own query through PgBouncer: (rows that were the other's, errors)."""
    clients = {name: psycopg.connect(url, autocommit=True, **connect_kwargs) for name in QUERIES}
    try:
        return alternate_connections(clients)
    finally:
        for conn in clients.values():
            conn.close()


def alternate_connections(clients: dict[str, psycopg.Connection]) -> tuple[int, list[str]]:
    wrong, errors = 0, []
    for n in range(ROUNDS):
        # Each client runs its query while the other holds a server connection in a transaction:
        # both have now executed (and, past the threshold, prepared) on different servers.
        with clients["a"].transaction():
            clients["a"].execute(QUERIES["a"], {"n": n}).fetchone()
            with clients["b"].transaction():
                clients["b"].execute(QUERIES["b"], {"n": n}).fetchone()
        for name, conn in clients.items():
            try:
                row = conn.execute(QUERIES[name], {"n": n}).fetchone()
            except psycopg.Error as error:
                errors.append(str(error).splitlines()[0])
                continue
            if tuple(row.values() if isinstance(row, dict) else row) != (n, name):
                wrong += 1
    return wrong, errors


def test_server_side_prepared_statements_through_pgbouncer_return_another_clients_rows(pgbouncer, database_url):
    """The hazard is real on this setup: with statements prepared at once, clients get each other's rows.

    (Shows that the proof below would see wrong rows if the service's connections prepared.)"""
    wrong, _ = alternate(pgbouncer.url(database_name(database_url)), prepare_threshold=0)
    assert wrong > ROUNDS // 2


def test_two_service_connections_alternating_same_shaped_queries_through_pgbouncer_get_their_own_rows(
        pgbouncer, database_url):
    url = pgbouncer.url(database_name(database_url))
    clients = {name: db.connect(url, settings=transaction_settings(url)) for name in QUERIES}
    try:
        wrong, errors = alternate_connections(clients)
    finally:
        for conn in clients.values():
            conn.close()
    assert (wrong, errors) == (0, [])


# --- the service behind PgBouncer (DB_POOL_MODE=transaction) -------------------------------------

STATEMENT_TIMEOUT_MS = 2000


def transaction_settings(url: str):
    return load_settings().with_overrides(database_url=url, db_pool_mode="transaction",
                                          statement_timeout_ms=STATEMENT_TIMEOUT_MS)


@pytest.fixture(scope="module")
def database_url():
    """A database of the module's own, migrated, with the session settings set for the test role
    as docs/scaling.md tells an operator to (ALTER ROLE ... IN DATABASE ... SET)."""
    name = unique_database_name("pgbouncer")
    url = create_database(name)
    try:
        db.run_dbmate(url, "up")
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in db.role_settings_statements(transaction_settings(url), conn):
                conn.execute(statement)
        yield url
    finally:
        drop_database(name)


@pytest.fixture(scope="module")
def pooled_url(pgbouncer, database_url):
    return pgbouncer.url(database_name(database_url))


@pytest.fixture(scope="module")
def app(pooled_url):
    application = create_app(app_config(pooled_url, db_pool_mode="transaction",
                                        statement_timeout_ms=STATEMENT_TIMEOUT_MS))
    yield application
    application.extensions["cms.pool"].close()


@pytest.fixture(scope="module")
def live_server(pooled_url, tmp_path_factory):
    server = start_server(pooled_url, tmp_path_factory.mktemp("live-pgbouncer"), jwt_secret=TEST_JWT_SECRET,
                          extra_env={"DB_POOL_MODE": "transaction",
                                     "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS)})
    yield server
    server.stop()


def test_the_pools_connections_alternating_through_pgbouncer_get_their_own_rows(app):
    pool = app.extensions["cms.pool"]
    first, second = pool.getconn(), pool.getconn()
    try:
        wrong, errors = alternate_connections({"a": first, "b": second})
    finally:
        pool.putconn(first)
        pool.putconn(second)
    assert (wrong, errors) == (0, [])


def test_every_one_off_connection_in_transaction_mode_prepares_nothing_and_sends_no_options(pooled_url):
    kwargs = db.connection_kwargs(transaction_settings(pooled_url))
    assert kwargs["prepare_threshold"] is None
    assert "options" not in kwargs
    with db.connect(pooled_url, settings=transaction_settings(pooled_url)) as conn:
        assert conn.prepare_threshold is None
        assert conn.execute("SELECT current_setting('TimeZone') AS tz").fetchone()["tz"] == "UTC"


def test_the_statement_timeout_holds_through_pgbouncer(app):
    with app.app_context(), pytest.raises(psycopg.errors.QueryCanceled):
        db.connection().execute("SELECT pg_sleep(%s)", (STATEMENT_TIMEOUT_MS / 1000 + 0.5,))


def test_start_up_through_pgbouncer_without_the_role_settings_refuses_and_prints_them(pgbouncer, fresh_database):
    url = fresh_database("pgb_nosettings")
    pooled = pgbouncer.url(database_name(url))
    with pytest.raises(db.StartupError) as refused:
        create_app(app_config(pooled, db_pool_mode="transaction"))
    message = str(refused.value)
    assert "DB_POOL_MODE=transaction" in message
    assert "statement_timeout" in message and "ALTER ROLE" in message


def test_session_tools_refuse_a_transaction_pooler_without_a_direct_url(pooled_url, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", pooled_url)
    monkeypatch.setenv("DB_POOL_MODE", "transaction")
    monkeypatch.delenv("DATABASE_DIRECT_URL", raising=False)
    runner = CliRunner()
    for command in (["db", "status"], ["backup", "--dir", "/tmp"], ["demo-data", "--cars", "10"]):
        result = runner.invoke(cms_command, command)
        assert result.exit_code != 0, command
        assert "DATABASE_DIRECT_URL" in result.output, (command, result.output)

    monkeypatch.setenv("DATABASE_DIRECT_URL", database_url)
    result = runner.invoke(cms_command, ["db", "status"])
    assert result.exit_code == 0, result.output
    assert "Applied" in result.output


# --- the contract and the races, through PgBouncer --------------------------------------------------

from test_fuzz import http, test_no_operation_answers_5xx_or_a_non_json_error, world  # noqa: E402, F401
from test_live_concurrency import (  # noqa: E402, F401
    seller,
    test_concurrent_favorite_toggles_end_in_the_state_their_parity_says,
    test_fifty_buyers_racing_for_one_car_buy_it_exactly_once,
)
