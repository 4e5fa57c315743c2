-- Why: read replicas (DATABASE_REPLICA_URL) must never show a signed-in user an
-- older state than their own last write, whichever instance serves them next.
-- After a request of theirs writes, the service records the primary's WAL
-- position here; their reads use a replica only once it has replayed it
-- (docs/scaling.md). A nullable column without a default: a catalog-only change.

-- migrate:up

SET LOCAL lock_timeout = '5s';

ALTER TABLE users ADD COLUMN IF NOT EXISTS last_write_lsn pg_lsn;

COMMENT ON COLUMN users.last_write_lsn IS
'Primary WAL position after this user''s last writing request (set only when read replicas are configured); '
'their reads go to a replica that has replayed it, else to the primary.';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-column
ALTER TABLE users DROP COLUMN IF EXISTS last_write_lsn;
