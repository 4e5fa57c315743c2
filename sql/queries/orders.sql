-- Orders, and the car rows that selling a car locks and changes.
--
-- Lock order, everywhere a car can change hands: the car row first
-- (cars_lock, in cars.sql), then the order (orders_lock). Two requests racing for one
-- car therefore queue on the car row, and the second one sees what the first
-- one committed. The partial unique index orders_one_sale_per_car is the
-- database's own guarantee behind it.

-- name: orders_get
-- One order by id (or no row), not locked; documents never NULL (order_rows).
-- Used by: PATCH /api/seller/orders/:id, POST /api/payments/confirm-payment
-- (to learn the car and check ownership before locking anything).
SELECT *
FROM order_rows
WHERE id = %(id)s;

-- name: orders_lock
-- One order by id, locked FOR UPDATE (or no row); take the car's lock first.
-- Used by: PATCH /api/seller/orders/:id, POST /api/payments/confirm-payment.
SELECT *
FROM order_rows
WHERE id = %(id)s
FOR UPDATE;

-- name: orders_list_for_seller
-- The orders of one seller, or of everyone when seller_id is NULL; newest
-- first, many rows. Used by: GET /api/seller/orders. Index: orders_seller_id_idx.
-- Never prepared: a generic plan cannot know whether seller_id is given and reads
-- every order (tests/test_query_plans.py).
SELECT *
FROM order_rows
WHERE %(seller_id)s::int IS NULL OR seller_id = %(seller_id)s::int
ORDER BY created_at DESC, id DESC;

-- name: orders_list_for_buyer_with_car
-- The orders of one buyer, newest first, each with its car's columns prefixed
-- car__ (all NULL when the order has no car); many rows, one statement
-- whatever the number of orders. Used by: GET /api/payments/my-orders.
-- Index: orders_buyer_id_idx.
SELECT
    orders.*,
    cars.id AS car__id,
    cars.title AS car__title,
    cars.price AS car__price,
    cars.description AS car__description,
    cars.seller_id AS car__seller_id,
    cars.status AS car__status,
    cars.brand AS car__brand,
    cars.model AS car__model,
    cars.year AS car__year,
    cars.fuel_type AS car__fuel_type,
    cars.image AS car__image,
    cars.created_at AS car__created_at,
    cars.updated_at AS car__updated_at
FROM order_rows AS orders
LEFT JOIN car_rows AS cars ON orders.car_id = cars.id
WHERE orders.buyer_id = %(buyer_id)s
ORDER BY orders.created_at DESC, orders.id DESC;

-- name: orders_insert
-- Create an order; returns its id (read it back with orders_get: order_rows
-- is not insertable, documents being computed). Used by: POST /api/seller/orders
-- (status draft), POST /api/payments/checkout (status pending_payment).
INSERT INTO orders (car_id, buyer_id, seller_id, final_price, status, documents)
VALUES (
    %(car_id)s,
    %(buyer_id)s,
    %(seller_id)s,
    %(final_price)s,
    %(status)s,
    '[]'::jsonb
)
RETURNING id;

-- name: orders_update
-- Set an order's status (NULL keeps it) and, when set_documents is true, its
-- documents; returns its id (no row when there is no such order; read it back
-- with orders_get). Used by: PATCH /api/seller/orders/:id,
-- POST /api/payments/confirm-payment.
UPDATE orders
SET
    status = coalesce(%(status)s::text, status),
    documents = CASE WHEN %(set_documents)s THEN %(documents)s::jsonb ELSE documents END
WHERE id = %(id)s
RETURNING id;

-- name: orders_cancel_other_open_orders
-- When a car is sold, cancel its other open orders (draft, pending,
-- pending_payment); returns the ids of the cancelled orders. Runs in the
-- sale's transaction, under the car's lock. Used by: PATCH
-- /api/seller/orders/:id, POST /api/payments/confirm-payment.
UPDATE orders
SET status = 'cancelled'
WHERE
    car_id = %(car_id)s
    AND id <> %(order_id)s
    AND status IN ('draft', 'pending', 'pending_payment')
RETURNING id;

-- name: orders_sale_of_car
-- The id of the paid or completed order of a car other than order_id (or no
-- row). Run it after cars_lock, as its own statement, so that it sees
-- every sale committed while this transaction waited for the lock.
-- Used by: PATCH /api/seller/orders/:id, POST /api/payments/confirm-payment,
-- PATCH /api/seller/inventory/:id/status. Index: orders_one_sale_per_car.
SELECT id
FROM orders
WHERE
    car_id = %(car_id)s
    AND status IN ('paid', 'completed')
    AND id IS DISTINCT FROM %(order_id)s::int
ORDER BY id
LIMIT 1;

-- name: orders_find_pending_checkout
-- The buyer's order of this car still awaiting payment (or no row), so that a
-- second checkout returns it instead of opening another one.
-- Used by: POST /api/payments/checkout. Index: orders_buyer_id_idx.
SELECT *
FROM order_rows
WHERE
    buyer_id = %(buyer_id)s
    AND car_id = %(car_id)s
    AND status = 'pending_payment'
ORDER BY id DESC
LIMIT 1;

-- name: orders_user_exists
-- Whether a user with this id exists (one row, one boolean).
-- Used by: POST /api/seller/orders (the buyer).
SELECT exists(
    SELECT 1
    FROM users
    WHERE id = %(id)s
) AS found;
