-- Why: q= finds its matches through this index on the stored document (0032);
-- it replaces cars_search_idx, an index on the same words computed by
-- car_search_document(), which 0034 drops.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_search_document_idx ON cars USING gin (search_document);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_search_document_idx;
