-- Why: no query reads cars_search_idx since q= matches the stored document
-- (cars_search_document_idx, 0033); keeping it would cost every write of a car
-- a second GIN update. The function it indexed stays (0009; no query uses it).
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout, ban-drop-index
DROP INDEX CONCURRENTLY IF EXISTS cars_search_idx;

-- migrate:down transaction:false
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_search_idx ON cars
USING gin (car_search_document(title, brand, model, description));
