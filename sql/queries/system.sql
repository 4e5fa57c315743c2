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
