-- Why: GET /api/cars?sort=year_desc orders by year DESC NULLS LAST, then newest
-- first. cars_year_idx read backwards gives DESC NULLS FIRST, and a year is shared
-- by tens of thousands of cars, so PostgreSQL sorted every match; this index holds
-- the whole sort (with its tie-breakers), so a page stops after offset + limit rows.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_year_desc_idx ON cars (year DESC NULLS LAST, created_at DESC, id DESC);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_year_desc_idx;
