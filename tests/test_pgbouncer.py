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
from support.pgbouncer import PgBouncer, pgbouncer_or_skip

pytestmark = pytest.mark.slow

QUERIES = {
    "a": "SELECT %(n)s::int AS n, 'a'::text AS client",
    "b": "SELECT %(n)s::int AS n, 'b'::text AS client",
}
ROUNDS = 30


@pytest.fixture(scope="module")
def pgbouncer():
    """PgBouncer in transaction mode with two server connections per database."""
    bouncer = PgBouncer(binary=pgbouncer_or_skip(), pool_size=2).start()
    yield bouncer
    bouncer.stop()


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def alternate(url: str, **connect_kwargs) -> tuple[int, list[str]]:
    """Two clients alternating their own query through PgBouncer: (rows that were the other's, errors)."""
    clients = {name: psycopg.connect(url, autocommit=True, **connect_kwargs) for name in QUERIES}
    wrong, errors = 0, []
    try:
        for n in range(ROUNDS):
            # Each client runs its query while the other holds a server connection in a transaction:
            # both now have executed (and, past the threshold, prepared) on different servers.
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
                if row != (n, name):
                    wrong += 1
    finally:
        for conn in clients.values():
            conn.close()
    return wrong, errors


def test_server_side_prepared_statements_through_pgbouncer_return_another_clients_rows(pgbouncer, database_url):
    """The hazard is real on this setup: with statements prepared at once, clients get each other's rows.

    (Shows that the proof below would see wrong rows if the service's connections prepared.)"""
    wrong, _ = alternate(pgbouncer.url(database_name(database_url)), prepare_threshold=0)
    assert wrong > ROUNDS // 2


def test_two_connections_alternating_same_shaped_queries_through_pgbouncer_get_their_own_rows(
        pgbouncer, database_url):
    wrong, errors = alternate(pgbouncer.url(database_name(database_url)), prepare_threshold=None)
    assert (wrong, errors) == (0, [])
