-- Why: third step of 0027-0029. One count of refusals per event type,
-- address and window: the refusal is an upsert on this index
-- (record_refusal), so parallel refusals add to one row instead of racing to
-- insert two. Only counts are in it (refusal_window IS NOT NULL); an unknown
-- address is one address ('').
-- squawk-disable-assume-in-transaction

-- migrate:up transaction:false
-- CONCURRENTLY must be the only statement here; its lock blocks no read or write.
-- squawk-ignore require-lock-timeout
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS auth_events_refusal_window_unique ON auth_events (
    event_type, (coalesce(ip, '')), refusal_window
) WHERE refusal_window IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS auth_events_refusal_window_unique;
