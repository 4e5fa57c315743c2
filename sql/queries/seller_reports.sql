-- The seller's sales report, computed from real orders: a sale is an order
-- in status paid or completed. Until orders get a sold_at column, a sale is
-- dated by the order's created_at (stable: editing documents later does not
-- move it to another week, as updated_at would). Weeks are ISO weeks
-- (Monday to Sunday) in UTC, the time zone of every stored timestamp.

-- name: seller_report_totals
-- One row: total_sales (count) and total_revenue (sum of final_price, 0 when
-- none) over all time, for one seller, or everyone when seller_id is NULL.
-- Used by: GET /api/seller/reports, GET /api/admin/reports/sales (everyone).
-- Index: orders_seller_id_idx.
SELECT
    count(*) AS total_sales,
    coalesce(sum(final_price), 0) AS total_revenue
FROM orders
WHERE
    status IN ('paid', 'completed')
    AND (%(seller_id)s::int IS NULL OR seller_id = %(seller_id)s::int);

-- name: seller_report_weekly
-- One row per week for the last %(weeks)s weeks, the current week included,
-- oldest first, empty weeks included: week (the Monday, a date), sales
-- (count) and revenue (0 when none), for one seller, or everyone when
-- seller_id is NULL. Used by: GET /api/seller/reports.
WITH weeks AS (
    SELECT generate_series(
        date_trunc('week', now() AT TIME ZONE 'utc') - make_interval(weeks => %(weeks)s::int - 1),
        date_trunc('week', now() AT TIME ZONE 'utc'),
        interval '1 week'
    ) AS week_start
),

sales AS (
    SELECT
        date_trunc('week', created_at) AS week_start,
        final_price
    FROM orders
    WHERE
        status IN ('paid', 'completed')
        AND (%(seller_id)s::int IS NULL OR seller_id = %(seller_id)s::int)
        AND created_at >= date_trunc('week', now() AT TIME ZONE 'utc')
        - make_interval(weeks => %(weeks)s::int - 1)
)

SELECT
    weeks.week_start::date AS week,
    count(sales.week_start) AS sales,
    coalesce(sum(sales.final_price), 0) AS revenue
FROM weeks
LEFT JOIN sales ON weeks.week_start = sales.week_start
GROUP BY weeks.week_start
ORDER BY weeks.week_start;
