-- Why: every public read of cars leaves out the listings of deactivated sellers
-- (GET /api/cars, GET /api/cars/:id, a car's reviews). The list tests each car it
-- walks against the set of deactivated accounts, read once per statement (a hashed
-- subplan): this partial index holds only those accounts, so reading the set costs
-- a few index entries, never a scan of users, and the list keeps its index walk.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_deactivated_idx ON users (id) WHERE NOT is_active;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS users_deactivated_idx;
