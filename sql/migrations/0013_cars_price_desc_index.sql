-- Why: GET /api/cars?sort=price_desc orders by price DESC NULLS LAST, then newest
-- first. cars_price_idx read backwards gives DESC NULLS FIRST, so PostgreSQL sorted
-- every match (0.2-0.5 s at 1M cars); this index holds the whole sort (with its
-- tie-breakers), so a page stops after offset + limit rows.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_price_desc_idx ON cars (price DESC NULLS LAST, created_at DESC, id DESC);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_price_desc_idx;
