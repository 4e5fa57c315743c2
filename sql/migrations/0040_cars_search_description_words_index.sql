-- Why: sort=relevance with a one-word q reads the older matches of the lowest rank
-- through this index (car_search_description_words, 0038) when the newest cars hold too
-- few of them; a few µs of a car write, 10-20 s to build at a million cars, no lock on
-- reads or writes.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_search_description_words_idx ON cars
USING gin (car_search_description_words(search_document));

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_search_description_words_idx;
