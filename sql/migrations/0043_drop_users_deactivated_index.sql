-- Why: users_deactivated_idx (0030) served the public reads' question "is this car's
-- seller deactivated?", asked of users in every statement. Since 0041 the car carries
-- the answer (cars.seller_active) and no query reads the index; it only cost writes to
-- users and a DBA's question why it is there. Dropping it takes no lock that blocks
-- reads or writes.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here.
-- squawk-ignore require-lock-timeout
DROP INDEX CONCURRENTLY IF EXISTS users_deactivated_idx;

-- migrate:down transaction:false
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_deactivated_idx ON users (id) WHERE NOT is_active;
