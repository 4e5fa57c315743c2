"""Everything that talks to PostgreSQL directly.

- `queries`: the named SQL of sql/queries/*.sql, read once (`query("name")`).
- `rows`: run a named query on a connection (`fetch_one`, `fetch_all`, `fetch_rows`, ...).
- `session`: `connect()`, the one way to open a one-off connection, with the session
  settings and timeouts the pool uses too.
- `pool`: the process's pool (checked connections, 503 at once while no server accepts).
- `request`: the request's connection and `transaction()`.
- `replica_routing`: handlers that tolerate lag declare `@replica_reads` and read from a replica
  (`replicas`: the replica pools of DATABASE_REPLICA_URL); `write_positions` records a signed-in
  user's last write so that their reads wait for it (read-your-writes).
- `migrations`: dbmate, seed.sql and the start-up check of the schema version.

Callers import from here (`from cms import db`; `db.transaction()`, `db.connect(url)`).
"""

from cms.db.migrations import (
    LATEST_MIGRATION,
    MIGRATIONS_DIR,
    SEED_FILE,
    StartupError,
    applied_migration,
    applied_versions,
    check_database,
    dbmate_url,
    latest_migration_file_version,
    pending_migrations,
    rehearse_migrations,
    run_dbmate,
    run_seed,
    server_version,
)
from cms.db.pool import check_borrowed_connection, open_pool
from cms.db.queries import QUERIES, Query, QueryFileError, load_queries, parse_query_file, query
from cms.db.replica_routing import get_replicas, note_user, open_replicas, replica_reads
from cms.db.request import connection, get_pool, init_app, primary_connection, transaction
from cms.db.rows import execute, fetch_all, fetch_one, fetch_rows, fetch_value
from cms.db.session import (
    SessionRequired,
    connect,
    connection_kwargs,
    direct_url,
    one_line,
    redact,
    role_settings_statements,
    session_options,
)
from cms.resources import ROOT

__all__ = [
    "LATEST_MIGRATION", "MIGRATIONS_DIR", "QUERIES", "ROOT", "SEED_FILE", "Query", "QueryFileError", "StartupError",
    "applied_migration", "applied_versions", "pending_migrations", "rehearse_migrations",
    "check_borrowed_connection", "check_database", "connect", "connection", "dbmate_url",
    "execute", "fetch_all", "fetch_one", "fetch_rows", "fetch_value", "get_pool", "init_app",
    "latest_migration_file_version", "load_queries", "one_line", "open_pool", "parse_query_file", "query", "redact",
    "run_dbmate", "run_seed", "server_version", "session_options", "transaction",
    "SessionRequired", "connection_kwargs", "direct_url", "get_replicas", "note_user", "open_replicas",
    "primary_connection", "replica_reads", "role_settings_statements",
]
