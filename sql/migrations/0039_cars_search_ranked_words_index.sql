-- Why: sort=relevance with a one-word q finds the matches that rank above the
-- lowest rank through this index (car_search_ranked_words, 0038) instead of
-- ranking every match; about 35 µs of a car write, 40-60 s to build at a
-- million cars, no lock on reads or writes.
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS cars_search_ranked_words_idx ON cars
USING gin (car_search_ranked_words(search_document));

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS cars_search_ranked_words_idx;
