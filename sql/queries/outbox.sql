-- name: enqueue_notification
-- Queue a notification in the caller's transaction; returns its id.
-- Used by: POST /api/inquiries, POST /api/payments/confirm-payment.
INSERT INTO notification_outbox (kind, message)
VALUES (%(kind)s, %(message)s)
RETURNING id;

-- name: claim_due_notifications
-- Lock up to %(batch)s due pending notifications, skipping rows another worker
-- holds, so no message is handled by two workers at once.
-- Used by: cms outbox-worker. Index: notification_outbox_due_idx.
SELECT
    id,
    kind,
    message,
    attempts
FROM notification_outbox
WHERE
    status = 'pending'
    AND next_attempt_at <= (now() AT TIME ZONE 'utc')
ORDER BY next_attempt_at, id
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED;

-- name: mark_notification_sent
-- Record a delivery (no rows returned). Used by: cms outbox-worker.
UPDATE notification_outbox
SET
    status = 'sent',
    attempts = attempts + 1,
    telegram_message_id = %(telegram_message_id)s,
    sent_at = now() AT TIME ZONE 'utc',
    last_error = NULL
WHERE id = %(id)s;

-- name: mark_notification_failed
-- Record a failed attempt: retry after %(retry_in_seconds)s seconds, or give
-- up (status failed) when %(give_up)s. Used by: cms outbox-worker.
UPDATE notification_outbox
SET
    attempts = attempts + 1,
    last_error = %(error)s,
    status = CASE WHEN %(give_up)s THEN 'failed' ELSE 'pending' END,
    next_attempt_at = (now() AT TIME ZONE 'utc') + make_interval(secs => %(retry_in_seconds)s)
WHERE id = %(id)s;

-- name: insert_notification_attempt
-- Log one delivery attempt (no rows returned). Used by: cms outbox-worker.
INSERT INTO notification_attempts (
    outbox_id, attempt_number, status, telegram_message_id, error, worker
)
VALUES (
    %(outbox_id)s,
    %(attempt_number)s,
    %(status)s,
    %(telegram_message_id)s,
    %(error)s,
    %(worker)s
);

-- name: list_recent_notifications
-- Newest notifications with their delivery state, %(limit)s rows from %(offset)s.
-- Used by: GET /api/admin/notifications. Index: notification_outbox_pkey.
SELECT
    id,
    kind,
    message,
    status,
    attempts,
    next_attempt_at,
    last_error,
    telegram_message_id,
    created_at,
    sent_at
FROM notification_outbox
ORDER BY id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: count_pending_notifications
-- How many notifications wait to be sent (the outbox backlog).
-- Used by: GET /metrics. Index: notification_outbox_due_idx (partial, pending rows).
SELECT count(*) AS pending
FROM notification_outbox
WHERE status = 'pending';
