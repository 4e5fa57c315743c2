-- name: idempotency_lock_key
-- Serialize requests that carry the same key in the same scope until the
-- transaction ends (a transaction-level advisory lock), and give the
-- transaction an id, so that even one that only replays an answer commits
-- through synchronous replication (one row).
-- Used by: every POST declared idempotent, before it runs.
SELECT
    pg_advisory_xact_lock(
        hashtextextended('idempotency:' || %(scope)s || ':' || %(idempotency_key)s, 0)
    ) AS locked,
    pg_current_xact_id() AS transaction_id;

-- name: idempotency_find_key
-- The stored answer for a key in a scope, unless it expired (one row or none).
-- Used by: every POST declared idempotent. Index: idempotency_keys_scope_key.
SELECT
    request_hash,
    status,
    content_type,
    body
FROM idempotency_keys
WHERE
    scope = %(scope)s
    AND idempotency_key = %(idempotency_key)s
    AND created_at >= (now() AT TIME ZONE 'utc') - make_interval(hours => %(ttl_hours)s);

-- name: idempotency_delete_expired
-- Delete up to a batch of expired keys, this scope's same key first (nothing
-- back). Used by: every POST declared idempotent, before it records its key.
DELETE FROM idempotency_keys
WHERE id IN (
    SELECT old.id
    FROM idempotency_keys AS old
    WHERE old.created_at < (now() AT TIME ZONE 'utc') - make_interval(hours => %(ttl_hours)s)
    ORDER BY
        (old.scope = %(scope)s AND old.idempotency_key = %(idempotency_key)s) DESC,
        old.created_at
    LIMIT %(batch)s
);

-- name: idempotency_record_key
-- Record the first successful answer for a key, in the transaction of its write
-- (nothing back). Used by: every POST declared idempotent, after it succeeded.
INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, status, content_type, body)
VALUES (%(scope)s, %(idempotency_key)s, %(request_hash)s, %(status)s, %(content_type)s, %(body)s);
