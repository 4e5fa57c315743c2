-- Why: cursor paging with sort=year_asc (oldest model year first, cars without a year
-- last) asks for "the rows after (year, id)". A NULL year takes the largest integer
-- as its key, so one row comparison on (key, id) finds the start of the next page in
-- this index at any depth, cars without a year included.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_year_asc_id_idx ON cars ((coalesce(year, 2147483647)), id);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_year_asc_id_idx;
