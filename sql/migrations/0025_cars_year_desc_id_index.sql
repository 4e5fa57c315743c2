-- Why: cursor paging with sort=year_desc (newest model year first, cars without a year
-- last) asks for "the rows before (year, id)", read backwards. A NULL year takes the
-- smallest key here, so it still comes last; 0023's index puts it first when read
-- backwards, hence a second index.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_year_desc_id_idx ON cars ((coalesce(year, -2147483647)), id);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_year_desc_id_idx;
