-- Why: a client that retries a creating POST after a 503 or a lost answer must not
-- create twice. It sends an Idempotency-Key; the first successful answer is stored
-- here in the same transaction as the write it answers, so a key exists exactly when
-- its write does, on any instance. A retry with the same key and the same request
-- gets this answer back; the same key with another request is refused. Keys are
-- scoped by caller ('user:<id>', or 'anonymous' where the request must match byte
-- for byte) and expire after IDEMPOTENCY_KEY_TTL_HOURS.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS idempotency_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash bytea NOT NULL,
    status integer NOT NULL,
    content_type text NOT NULL,
    body bytea NOT NULL,
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT idempotency_keys_scope_key UNIQUE (scope, idempotency_key),
    CONSTRAINT idempotency_keys_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_status CHECK (status BETWEEN 200 AND 299)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_created_at_idx ON idempotency_keys (created_at);

COMMENT ON TABLE idempotency_keys IS
'The first successful answer to a creating POST sent with an Idempotency-Key, written with its write.';
COMMENT ON COLUMN idempotency_keys.id IS 'Row id.';
COMMENT ON COLUMN idempotency_keys.scope IS
'Whose key: user:<id> for a signed-in caller, anonymous otherwise.';
COMMENT ON COLUMN idempotency_keys.idempotency_key IS 'The Idempotency-Key header as sent.';
COMMENT ON COLUMN idempotency_keys.request_hash IS
'SHA-256 of the method, path and body: a retry must send the same request.';
COMMENT ON COLUMN idempotency_keys.status IS 'The HTTP status of the stored answer (2xx).';
COMMENT ON COLUMN idempotency_keys.content_type IS 'The Content-Type of the stored answer.';
COMMENT ON COLUMN idempotency_keys.body IS 'The stored answer''s body, byte for byte.';
COMMENT ON COLUMN idempotency_keys.created_at IS 'When the key was recorded (UTC); it expires after the TTL.';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table

DROP TABLE idempotency_keys;
