-- name: latest_migration
-- Newest migration version recorded by dbmate (one row, or none on an empty table).
-- Used by: start-up check, GET /ping, cms docs schema. Index: schema_migrations_pkey.
SELECT version
FROM schema_migrations
ORDER BY version DESC
LIMIT 1;

-- name: server_version
-- PostgreSQL server version string (one value). Used by: GET /ping.
SELECT current_setting('server_version') AS version;

-- name: session_settings
-- The server-side values of the named settings in this session (lower-case names), with the
-- role and database they were read for. Used by: the start-up check in DB_POOL_MODE=transaction.
SELECT
    lower(name) AS name,
    setting,
    current_user AS role_name,
    current_database() AS database_name
FROM pg_settings
WHERE lower(name) = any(%(names)s::text[]);

-- name: replica_status
-- Whether this server is a replica, the WAL position it has replayed and its lag in seconds
-- (0 when it has replayed all it received). Used by: read routing to replicas, GET /ping.
SELECT
    pg_is_in_recovery() AS in_recovery,
    pg_last_wal_replay_lsn()::text AS replayed_lsn,
    CASE
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE coalesce(extract(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
    END::float8 AS lag_seconds;

-- name: end_session_if_idle_in_transaction
-- For the rest of this transaction: PostgreSQL ends the session when it waits on the client
-- longer than timeout_ms inside the transaction (a backstop: a streamed car list whose client
-- stopped reading must not hold its snapshot). Used by: GET /api/cars without limit.
SELECT set_config('idle_in_transaction_session_timeout', %(timeout_ms)s::text, TRUE);

-- name: table_exists
-- Whether a table of that name exists in the public schema (one row, true or false).
-- Used by: cms db up (whether the database holds rows to rehearse its migrations on).
SELECT to_regclass('public.' || quote_ident(%(name)s)) IS NOT NULL AS present;

-- name: applied_migrations
-- Every migration version dbmate recorded, oldest first (many rows).
-- Used by: cms db up (which migrations are pending). Index: schema_migrations_pkey.
SELECT version
FROM schema_migrations
ORDER BY version ASC;
