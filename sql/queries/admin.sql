-- name: admin_lock_users
-- The rows of the given user ids (caller and target of an admin change),
-- locked in id order so that two admins changing each other cannot deadlock;
-- many rows, without hashes. NO KEY UPDATE (the change writes no key): the
-- foreign-key checks of rows that name the user (an order a checkout inserts
-- while it holds a car of this seller, whose deactivation then waits for that
-- car) pass instead of waiting. Used by: PATCH /api/admin/users/:id.
SELECT *
FROM user_rows
WHERE id = any(%(ids)s::int[])
ORDER BY id
FOR NO KEY UPDATE;

-- name: admin_update_user
-- Apply an admin's change to a user: only is_active, role, name, phone and
-- address, each one only when its set_* flag is true. Returns the updated row
-- without the hash (or no row). Used by: PATCH /api/admin/users/:id.
UPDATE user_rows
SET
    is_active = CASE WHEN %(set_is_active)s THEN %(is_active)s::boolean ELSE is_active END,
    role = CASE WHEN %(set_role)s THEN %(role)s::text ELSE role END,
    name = CASE WHEN %(set_name)s THEN %(name)s::text ELSE name END,
    phone = CASE WHEN %(set_phone)s THEN %(phone)s::text ELSE phone END,
    address = CASE WHEN %(set_address)s THEN %(address)s::text ELSE address END
WHERE id = %(id)s
RETURNING *;

-- name: admin_list_actions
-- One page of the audit log, newest first, with the acting admin and (for
-- actions about a user) the target user joined in; many rows. The first
-- column, total, counts every matching action; when the page is empty (offset
-- past the end) a single row comes back with total set and every other column
-- NULL. targetUser is joined only for the action types in
-- %(user_action_types)s, because target_id is a car id for car actions.
-- Used by: GET /api/admin/actions. Indexes: admin_actions_created_at_idx,
-- admin_actions_action_type_idx.
WITH filtered AS (
    SELECT
        id,
        admin_id,
        action_type,
        target_id,
        details,
        created_at
    FROM admin_actions
    WHERE
        (%(action_type)s::text IS NULL OR action_type = %(action_type)s::text)
        AND (%(created_from)s::timestamp IS NULL OR created_at >= %(created_from)s::timestamp)
        AND (%(created_before)s::timestamp IS NULL OR created_at < %(created_before)s::timestamp)
),

page AS (
    SELECT
        filtered.id,
        filtered.admin_id,
        filtered.action_type,
        filtered.target_id,
        filtered.details,
        filtered.created_at,
        acting_admin.id AS admin_user_id,
        acting_admin.name AS admin_name,
        acting_admin.email AS admin_email,
        target_user.id AS target_user_id,
        target_user.name AS target_user_name,
        target_user.email AS target_user_email,
        target_user.role AS target_user_role
    FROM filtered
    LEFT JOIN users AS acting_admin
        ON filtered.admin_id = acting_admin.id
    LEFT JOIN users AS target_user
        ON
            filtered.target_id = target_user.id
            AND filtered.action_type = any(%(user_action_types)s::text[])
    ORDER BY filtered.created_at DESC NULLS LAST, filtered.id DESC
    LIMIT %(limit)s OFFSET %(offset)s
)

SELECT
    counted.total,
    page.*
FROM (SELECT count(*) AS total FROM filtered) AS counted
LEFT JOIN page ON TRUE
ORDER BY page.created_at DESC NULLS LAST, page.id DESC;

-- name: admin_seller_performance
-- Per seller (every seller account, plus any other account with listings or
-- sales): paid/completed orders, their revenue and the number of listings;
-- many rows, best revenue first. An order's seller is orders.seller_id, or the
-- car's seller for old rows without one. Used by: GET /api/admin/reports/sales.
WITH seller_sales AS (
    SELECT
        coalesce(orders.seller_id, cars.seller_id) AS seller_id,
        count(*) AS sales,
        sum(orders.final_price) AS revenue
    FROM orders
    LEFT JOIN cars ON orders.car_id = cars.id
    WHERE orders.status IN ('paid', 'completed')
    GROUP BY coalesce(orders.seller_id, cars.seller_id)
),

seller_listings AS (
    SELECT
        seller_id,
        count(*) AS listings
    FROM cars
    GROUP BY seller_id
)

SELECT
    users.id,
    users.name,
    coalesce(seller_sales.sales, 0) AS sales,
    coalesce(seller_sales.revenue, 0) AS revenue,
    coalesce(seller_listings.listings, 0) AS listings
FROM users
LEFT JOIN seller_sales ON users.id = seller_sales.seller_id
LEFT JOIN seller_listings ON users.id = seller_listings.seller_id
WHERE
    users.role = 'seller'
    OR seller_sales.seller_id IS NOT NULL
    OR seller_listings.seller_id IS NOT NULL
ORDER BY revenue DESC, sales DESC, listings DESC, users.name, users.id;

-- name: admin_recent_transactions
-- The newest paid or completed orders (by last update, the closest record of
-- when the sale happened), with the car's title and the buyer's name; at most
-- %(limit)s rows. Used by: GET /api/admin/reports/sales.
SELECT
    orders.id,
    orders.car_id,
    orders.buyer_id,
    orders.status,
    coalesce(cars.title, '') AS car,
    orders.final_price AS price,
    coalesce(orders.updated_at, orders.created_at) AS date,
    coalesce(buyers.name, '') AS buyer
FROM orders
LEFT JOIN cars ON orders.car_id = cars.id
LEFT JOIN users AS buyers ON orders.buyer_id = buyers.id
WHERE orders.status IN ('paid', 'completed')
ORDER BY coalesce(orders.updated_at, orders.created_at) DESC, orders.id DESC
LIMIT %(limit)s;
