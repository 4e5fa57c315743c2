-- Why: GET /api/cars?brand=…&limit=20 (newest first, often with a price range) walked
-- cars_created_at_idx and skipped every other brand: ~900 cars read for a page of 20 at
-- 1M cars. This index gives one brand's cars newest first, so the page reads ~50 and
-- its cost no longer depends on the number of cars (bench/results, issue 5).
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_brand_created_at_idx ON cars (lower(brand), created_at DESC, id DESC);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_brand_created_at_idx;
