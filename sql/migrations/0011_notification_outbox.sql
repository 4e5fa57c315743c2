-- Why: notifications used to be sent fire-and-forget and were lost when the
-- process died or Telegram failed. They are now written to an outbox in the
-- same transaction as the inquiry or payment, and delivered by workers that
-- claim rows with FOR UPDATE SKIP LOCKED, retry with backoff and record
-- every attempt.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE notification_outbox (
    id bigserial CONSTRAINT notification_outbox_pkey PRIMARY KEY,
    kind varchar(30) NOT NULL CONSTRAINT notification_outbox_kind_check CHECK (
        kind IN ('inquiry_created', 'payment_confirmed', 'test')
    ),
    message text NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'pending'
    CONSTRAINT notification_outbox_status_check CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CONSTRAINT notification_outbox_attempts_check CHECK (attempts >= 0),
    next_attempt_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    last_error text,
    telegram_message_id bigint,
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    sent_at timestamp
);

COMMENT ON TABLE notification_outbox IS
'Notifications waiting to be sent (or sent, or given up), written with the change they announce.';
COMMENT ON COLUMN notification_outbox.id IS 'Surrogate key; also the delivery order.';
COMMENT ON COLUMN notification_outbox.kind IS 'What happened: inquiry_created, payment_confirmed or test.';
COMMENT ON COLUMN notification_outbox.message IS 'Text to send.';
COMMENT ON COLUMN notification_outbox.status IS 'pending (to send or retry), sent, or failed (retries exhausted).';
COMMENT ON COLUMN notification_outbox.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN notification_outbox.next_attempt_at IS 'Earliest time of the next attempt (UTC; backoff).';
COMMENT ON COLUMN notification_outbox.last_error IS 'Error of the latest failed attempt.';
COMMENT ON COLUMN notification_outbox.telegram_message_id IS 'Telegram message id once sent.';
COMMENT ON COLUMN notification_outbox.created_at IS 'When the notification was queued (UTC).';
COMMENT ON COLUMN notification_outbox.sent_at IS 'When it was delivered (UTC).';

-- Workers pick due pending rows in id order.
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at, id)
WHERE status = 'pending';

CREATE TABLE notification_attempts (
    id bigserial CONSTRAINT notification_attempts_pkey PRIMARY KEY,
    outbox_id bigint NOT NULL
    CONSTRAINT notification_attempts_outbox_id_notification_outbox_id_fk
    REFERENCES notification_outbox (id) ON DELETE CASCADE,
    attempt_number integer NOT NULL,
    attempted_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    status varchar(20) NOT NULL
    CONSTRAINT notification_attempts_status_check CHECK (status IN ('sent', 'failed')),
    telegram_message_id bigint,
    error text,
    worker varchar(100)
);

COMMENT ON TABLE notification_attempts IS 'Every delivery attempt of an outbox row, successful or not.';
COMMENT ON COLUMN notification_attempts.id IS 'Surrogate key.';
COMMENT ON COLUMN notification_attempts.outbox_id IS 'The notification attempted.';
COMMENT ON COLUMN notification_attempts.attempt_number IS '1 for the first attempt, then 2, 3, ...';
COMMENT ON COLUMN notification_attempts.attempted_at IS 'When the attempt ended (UTC).';
COMMENT ON COLUMN notification_attempts.status IS 'sent or failed.';
COMMENT ON COLUMN notification_attempts.telegram_message_id IS 'Telegram message id on success.';
COMMENT ON COLUMN notification_attempts.error IS 'Why the attempt failed.';
COMMENT ON COLUMN notification_attempts.worker IS 'Which worker made the attempt (host:pid).';

CREATE INDEX notification_attempts_outbox_id_idx ON notification_attempts (outbox_id, attempt_number);

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table
DROP TABLE notification_attempts;
DROP TABLE notification_outbox;
