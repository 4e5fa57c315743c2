-- name: list_auth_events
-- Security log page, newest first, with the total number of matches in every row.
-- Filters are optional (NULL = any). Used by: GET /api/admin/security-log.
-- Index: auth_events_occurred_at_idx, auth_events_email_idx.
-- Never prepared: with every filter optional, a generic plan cannot use the index
-- of the filter given and reads every event (tests/test_query_plans.py).
SELECT
    id,
    occurred_at,
    event_type,
    user_id,
    email,
    ip,
    user_agent,
    details,
    occurrences,
    last_occurred_at,
    count(*) OVER () AS total_count
FROM auth_events
WHERE
    (%(event_type)s::text IS NULL OR event_type = %(event_type)s::text)
    AND (%(email)s::text IS NULL OR email = lower(btrim(%(email)s::text)))
    AND (%(ip)s::text IS NULL OR ip = %(ip)s::text)
    AND (%(start_at)s::timestamp IS NULL OR occurred_at >= %(start_at)s::timestamp)
    AND (%(end_at)s::timestamp IS NULL OR occurred_at < %(end_at)s::timestamp)
ORDER BY occurred_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: insert_auth_event
-- Record one security event (no rows returned).
-- Used by: POST /api/auth/login, POST /api/auth/register, PATCH /api/admin/users/:id.
INSERT INTO auth_events (event_type, user_id, email, ip, user_agent, details)
VALUES (
    %(event_type)s,
    %(user_id)s,
    lower(btrim(%(email)s)),
    %(ip)s,
    left(%(user_agent)s, 512),
    %(details)s
);

-- name: dashboard_figures
-- Every figure of the admin dashboard in one row: users by role, listings by
-- status, pending listings, sales today and in the last 30 days (paid and
-- completed orders, by order creation time, UTC).
-- Used by: GET /api/admin/dashboard.
SELECT
    (
        SELECT coalesce(jsonb_object_agg(role, total), '{}')
        FROM (SELECT
            role,
            count(*) AS total
        FROM users GROUP BY role) AS roles
    ) AS users_by_role,
    (
        SELECT coalesce(jsonb_object_agg(status, total), '{}')
        FROM (SELECT
            status,
            count(*) AS total
        FROM cars GROUP BY status) AS statuses
    ) AS listings_by_status,
    (SELECT count(*) FROM cars WHERE status = 'pending') AS pending_listings,
    sales.today_count,
    sales.today_revenue,
    sales.last30_count,
    sales.last30_revenue
FROM (
    SELECT
        count(*) FILTER (
            WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'utc')
        ) AS today_count,
        coalesce(sum(final_price) FILTER (
            WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'utc')
        ), 0) AS today_revenue,
        count(*) AS last30_count,
        coalesce(sum(final_price), 0) AS last30_revenue
    FROM orders
    WHERE
        status IN ('paid', 'completed')
        AND created_at >= (now() AT TIME ZONE 'utc') - interval '30 days'
) AS sales;

-- name: seller_performance_totals
-- One seller's totals: listings, approved listings (on sale, reserved or sold),
-- sales count and value from paid and completed orders; no row for an unknown seller.
-- Used by: GET /api/admin/sellers/:id/performance.
SELECT
    seller.id AS seller_id,
    seller.name,
    seller.email,
    seller.role,
    (SELECT count(*) FROM cars WHERE seller_id = seller.id) AS total_listings,
    (
        SELECT count(*) FROM cars
        WHERE seller_id = seller.id AND status IN ('available', 'reserved', 'sold')
    ) AS approved_listings,
    (
        SELECT count(*) FROM orders
        WHERE seller_id = seller.id AND status IN ('paid', 'completed')
    ) AS sales_count,
    (
        SELECT coalesce(sum(final_price), 0) FROM orders
        WHERE seller_id = seller.id AND status IN ('paid', 'completed')
    ) AS sales_value
FROM users AS seller
WHERE seller.id = %(seller_id)s;

-- name: seller_performance_by_month
-- One seller's listings created, sales and revenue per calendar month (UTC),
-- for the last %(months)s months including empty ones, oldest first.
-- Used by: GET /api/admin/sellers/:id/performance.
SELECT
    to_char(month.start, 'YYYY-MM') AS month,
    (
        SELECT count(*) FROM cars
        WHERE
            seller_id = %(seller_id)s
            AND created_at >= month.start AND created_at < month.start + interval '1 month'
    ) AS listings,
    (
        SELECT count(*) FROM orders
        WHERE
            seller_id = %(seller_id)s AND status IN ('paid', 'completed')
            AND created_at >= month.start AND created_at < month.start + interval '1 month'
    ) AS sales,
    (
        SELECT coalesce(sum(final_price), 0) FROM orders
        WHERE
            seller_id = %(seller_id)s AND status IN ('paid', 'completed')
            AND created_at >= month.start AND created_at < month.start + interval '1 month'
    ) AS revenue
FROM
    generate_series(
        date_trunc('month', now() AT TIME ZONE 'utc') - make_interval(months => %(months)s - 1),
        date_trunc('month', now() AT TIME ZONE 'utc'),
        interval '1 month'
    ) AS month (start)
ORDER BY month.start;

-- name: record_refusal
-- Count a refused attempt (login_throttled, register_throttled): one row per
-- event type, address and window of %(window_seconds)s seconds, whose count,
-- latest time and details each refusal updates; the email and user agent stay
-- while every refusal names the same (else NULL). No rows returned.
-- Used by: POST /api/auth/login, POST /api/auth/register (throttles).
-- Index: auth_events_refusal_window_unique.
INSERT INTO auth_events (
    event_type, email, ip, user_agent, details, refusal_window, last_occurred_at
)
VALUES (
    %(event_type)s,
    lower(btrim(%(email)s)),
    %(ip)s,
    left(%(user_agent)s, 512),
    %(details)s,
    date_bin(
        make_interval(secs => %(window_seconds)s),
        now() AT TIME ZONE 'utc',
        timestamp '2000-01-01'
    ),
    now() AT TIME ZONE 'utc'
)
ON CONFLICT (event_type, (coalesce(ip, '')), refusal_window)
WHERE refusal_window IS NOT NULL
DO UPDATE SET
    occurrences = auth_events.occurrences + 1,
    last_occurred_at = excluded.last_occurred_at,
    details = excluded.details,
    email = CASE
        WHEN auth_events.email IS NOT DISTINCT FROM excluded.email THEN auth_events.email
    END,
    user_agent = CASE
        WHEN auth_events.user_agent IS NOT DISTINCT FROM excluded.user_agent
            THEN auth_events.user_agent
    END;

-- name: lock_login_throttle
-- Serialise login attempts for one email and for one address until the
-- transaction ends (advisory locks), so that checking the throttle and
-- recording the attempt are one step. Email first, then address: one order.
-- Used by: POST /api/auth/login (throttle).
SELECT
    pg_advisory_xact_lock(1301, hashtext(lower(btrim(%(email)s::text)))) AS email_lock,
    pg_advisory_xact_lock(1302, hashtext(coalesce(%(ip)s::text, ''))) AS ip_lock;

-- name: login_throttle_figures
-- Failed logins within the last %(window_seconds)s seconds that count against
-- an email from any address (since the account's last success), against the
-- pair email and address (since that address's last success for the email)
-- and against the address (any email): settled failures, and attempts still
-- being checked (begin_auth_attempt); the seconds since the latest of each
-- for the email, and until the oldest counted one of the pair and of the
-- address stops counting. One row.
-- Used by: POST /api/auth/login (throttle). Index: auth_events_email_idx, auth_events_ip_idx.
WITH
window_start AS (
    SELECT (now() AT TIME ZONE 'utc') - make_interval(secs => %(window_seconds)s) AS at
),

last_success AS (
    SELECT
        coalesce(max(occurred_at), '-infinity'::timestamp) AS account_at,
        coalesce(max(occurred_at) FILTER (WHERE ip = %(ip)s::text), '-infinity'::timestamp) AS pair_at
    FROM auth_events
    WHERE
        email = lower(btrim(%(email)s::text))
        AND event_type = 'login_success'
        AND occurred_at >= (SELECT at FROM window_start)
),

email_failures AS (
    SELECT
        f.occurred_at,
        f.ip,
        -- an attempt unsettled after a minute (its process died) counts as a failure
        coalesce(f.details ->> 'reason' = 'being checked', FALSE)
        AND f.occurred_at > (now() AT TIME ZONE 'utc') - interval '1 minute' AS pending,
        f.occurred_at > s.account_at AS for_account,
        f.ip = %(ip)s::text AND f.occurred_at > s.pair_at AS for_pair
    FROM auth_events AS f, last_success AS s
    WHERE
        f.email = lower(btrim(%(email)s::text))
        AND f.event_type = 'login_failure'
        AND f.occurred_at >= (SELECT at FROM window_start)
),

ip_failures AS (
    SELECT
        occurred_at,
        coalesce(details ->> 'reason' = 'being checked', FALSE)
        AND occurred_at > (now() AT TIME ZONE 'utc') - interval '1 minute' AS pending
    FROM auth_events
    WHERE
        ip = %(ip)s::text
        AND event_type = 'login_failure'
        AND occurred_at >= (SELECT at FROM window_start)
)

SELECT
    count(*) FILTER (WHERE for_account AND NOT pending) AS account_failures,
    count(*) FILTER (WHERE for_account AND pending) AS account_pending,
    extract(EPOCH FROM (now() AT TIME ZONE 'utc') - max(occurred_at) FILTER (
        WHERE for_account AND NOT pending
    )) AS account_last_failure_age,
    extract(EPOCH FROM (now() AT TIME ZONE 'utc') - max(occurred_at) FILTER (
        WHERE for_account
    )) AS account_last_attempt_age,
    count(*) FILTER (WHERE for_pair AND NOT pending) AS pair_failures,
    count(*) FILTER (WHERE for_pair AND pending) AS pair_pending,
    extract(EPOCH FROM min(occurred_at) FILTER (WHERE for_pair) - (SELECT at FROM window_start)) AS pair_retry_after,
    (SELECT count(*) FROM ip_failures WHERE NOT pending) AS ip_failures,
    (SELECT count(*) FROM ip_failures WHERE pending) AS ip_pending,
    (
        SELECT extract(EPOCH FROM min(occurred_at) - (SELECT at FROM window_start))
        FROM ip_failures
    ) AS ip_retry_after
FROM email_failures;

-- name: lock_registration_throttle
-- Serialise registrations from one address until the transaction ends (an
-- advisory lock), so that checking the limit and recording the attempt are
-- one step. Used by: POST /api/auth/register (throttle).
SELECT pg_advisory_xact_lock(1303, hashtext(coalesce(%(ip)s::text, ''))) AS ip_lock;

-- name: address_attempts
-- Attempts of the types %(event_types)s (settled or being checked) from one
-- address within the last %(window_seconds)s seconds, and the seconds until
-- the oldest of them stops counting. One row. Used by: POST /api/auth/login,
-- POST /api/auth/register (limits per address). Index: auth_events_ip_idx.
WITH
window_start AS (
    SELECT (now() AT TIME ZONE 'utc') - make_interval(secs => %(window_seconds)s) AS at
),

attempts AS (
    SELECT occurred_at
    FROM auth_events
    WHERE
        ip = %(ip)s::text
        AND event_type = any(%(event_types)s::text[])
        AND occurred_at >= (SELECT at FROM window_start)
)

SELECT
    count(*) AS attempts,
    extract(EPOCH FROM min(occurred_at) - (SELECT at FROM window_start)) AS retry_after
FROM attempts;

-- name: begin_auth_attempt
-- Record a login or registration attempt as a failure (login_failure,
-- register_failure) before its password is checked or hashed (so that
-- parallel attempts count at once); returns its id for settle_auth_attempt.
-- Used by: POST /api/auth/login, POST /api/auth/register.
INSERT INTO auth_events (event_type, email, ip, user_agent, details)
VALUES (
    %(event_type)s,
    lower(btrim(%(email)s)),
    %(ip)s,
    left(%(user_agent)s, 512),
    '{"reason": "being checked"}'
)
RETURNING id;

-- name: settle_auth_attempt
-- Turn an attempt into what its checks found: login_success or login_failure,
-- register or register_failure, with its details and account (no rows
-- returned). Used by: POST /api/auth/login, POST /api/auth/register.
UPDATE auth_events
SET
    event_type = %(event_type)s,
    user_id = %(user_id)s,
    details = %(details)s
WHERE id = %(id)s;
