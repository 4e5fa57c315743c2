-- name: backup_user_tables
-- Every table, view and sequence outside the system schemas that is not part of an
-- extension (schema, name, kind 'r' table / 'p' partitioned / 'v' view / 'm' materialized
-- view / 'f' foreign / 'S' sequence), ordered. Used by: cms backup (progress total),
-- cms restore (refuse a non-empty target).
SELECT
    n.nspname AS schema_name,
    c.relname AS table_name,
    c.relkind::text AS kind
FROM pg_class AS c
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
WHERE
    c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_toast%%'
    AND n.nspname NOT LIKE 'pg\_temp\_%%'
    AND NOT EXISTS (
        SELECT 1
        FROM pg_depend AS d
        WHERE
            d.classid = 'pg_class'::regclass
            AND d.objid = c.oid
            AND d.deptype = 'e'
    )
ORDER BY n.nspname, c.relname;

-- name: backup_database_exists
-- Whether a database of this name exists on the server (one row, one boolean).
-- Used by: cms restore (create the target when missing).
SELECT exists(
    SELECT 1
    FROM pg_database
    WHERE datname = %(name)s
) AS present;

-- name: backup_can_advance_data_version
-- Whether the restored database has advance_data_version() (migration 0042 on); one row,
-- one boolean. Used by: cms restore.
SELECT to_regprocedure('advance_data_version()') IS NOT NULL AS present;

-- name: backup_advance_data_version
-- After a restore: the change counter behind public reads' ETags moves past every number
-- issued before, so that no client's tag matches the restored data unchecked.
-- Used by: cms restore.
SELECT advance_data_version();
