-- name: list_auth_events
-- Security log page, newest first, with the total number of matches in every row.
-- Filters are optional (NULL = any). Used by: GET /api/admin/security-log.
-- Index: auth_events_occurred_at_idx, auth_events_email_idx.
SELECT
    id,
    occurred_at,
    event_type,
    user_id,
    email,
    ip,
    user_agent,
    details,
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

-- name: recent_login_failures
-- Failed logins still counting against an email (since its last successful
-- login) and against an address, within the last %(window_seconds)s seconds,
-- with the time the oldest counted failure stops counting. One row.
-- Used by: POST /api/auth/login (throttle). Index: auth_events_email_idx, auth_events_ip_idx.
WITH
window_start AS (
    SELECT (now() AT TIME ZONE 'utc') - make_interval(secs => %(window_seconds)s) AS at
),

last_success AS (
    SELECT coalesce(max(occurred_at), '-infinity'::timestamp) AS at
    FROM auth_events
    WHERE
        email = lower(btrim(%(email)s::text))
        AND event_type = 'login_success'
        AND occurred_at >= (SELECT at FROM window_start)
)

SELECT
    email_failures.total AS email_failures,
    extract(EPOCH FROM email_failures.oldest - (SELECT at FROM window_start)) AS email_retry_after,
    ip_failures.total AS ip_failures,
    extract(EPOCH FROM ip_failures.oldest - (SELECT at FROM window_start)) AS ip_retry_after
FROM
    (
        SELECT
            count(*) AS total,
            min(occurred_at) AS oldest
        FROM auth_events
        WHERE
            email = lower(btrim(%(email)s::text))
            AND event_type = 'login_failure'
            AND occurred_at >= (SELECT at FROM window_start)
            AND occurred_at > (SELECT at FROM last_success)
    ) AS email_failures,
    (
        SELECT
            count(*) AS total,
            min(occurred_at) AS oldest
        FROM auth_events
        WHERE
            ip = %(ip)s::text
            AND event_type = 'login_failure'
            AND occurred_at >= (SELECT at FROM window_start)
    ) AS ip_failures;
