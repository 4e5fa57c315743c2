-- name: cars_get_detail
-- One listed car (not one of a deactivated seller) with average_rating (2 decimals, NULL
-- without reviews), review_count and images (a JSON array of the car's images by
-- display_order, the columns of car_image_rows, timestamps as ISO text), or no row: one
-- round trip for the page. Used by: GET /api/cars/:id.
-- Index: reviews_one_per_user_and_car, car_images_car_id_idx.
SELECT
    c.*,
    ratings.average_rating,
    ratings.review_count,
    car_images.images
FROM car_rows AS c
CROSS JOIN
    LATERAL (
        SELECT
            round(avg(r.rating), 2) AS average_rating,
            count(*) AS review_count
        FROM reviews AS r
        WHERE r.car_id = c.id
    ) AS ratings
CROSS JOIN
    LATERAL (
        SELECT coalesce(json_agg(i ORDER BY i.display_order ASC, i.id ASC), '[]'::json) AS images
        FROM car_image_rows AS i
        WHERE i.car_id = c.id
    ) AS car_images
WHERE
    c.id = %(id)s
    AND c.seller_active;

-- name: cars_get
-- One car (no lock), or no row.
-- Used by: POST /api/cars/:carId/images (ownership check before decoding the files),
-- GET /api/cars/:carId/images.
SELECT *
FROM car_rows
WHERE id = %(id)s;

-- name: cars_lock
-- One car, locked until the end of the transaction, or no row: the first lock
-- of every request that writes a car, its images or its sale (take it before
-- any order lock). NO KEY UPDATE waits for and blocks every other update and
-- row lock of the car, like FOR UPDATE, but not the foreign-key checks of rows
-- inserted meanwhile (favorites, inquiries, images).
-- Used by: PUT/DELETE /api/cars/:id, POST/PUT/DELETE /api/cars/:carId/images...,
-- PATCH /api/admin/cars/:id/approval, POST /api/seller/orders, PATCH
-- /api/seller/orders/:id, PATCH /api/seller/inventory/:id/status, POST
-- /api/payments/checkout, POST /api/payments/confirm-payment.
SELECT *
FROM car_rows
WHERE id = %(id)s
FOR NO KEY UPDATE;

-- name: cars_insert
-- Create a listing, status pending, owned by the caller; returns the new row.
-- Used by: POST /api/cars.
INSERT INTO car_rows (title, price, description, seller_id, status, brand, model, year, fuel_type, image)
VALUES (
    %(title)s,
    %(price)s,
    %(description)s,
    %(seller_id)s,
    'pending',
    %(brand)s,
    %(model)s,
    %(year)s,
    %(fuel_type)s,
    %(image)s
)
RETURNING *;

-- name: cars_update
-- Change the editable fields whose set_<field> flag is true (status, seller,
-- id and timestamps are not among them); returns the updated row.
-- Used by: PUT /api/cars/:id.
UPDATE car_rows
SET
    title = CASE WHEN %(set_title)s THEN %(title)s ELSE title END,
    price = CASE WHEN %(set_price)s THEN %(price)s::numeric ELSE price END,
    description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
    brand = CASE WHEN %(set_brand)s THEN %(brand)s ELSE brand END,
    model = CASE WHEN %(set_model)s THEN %(model)s ELSE model END,
    year = CASE WHEN %(set_year)s THEN %(year)s::integer ELSE year END,
    fuel_type = CASE WHEN %(set_fuel_type)s THEN %(fuel_type)s ELSE fuel_type END,
    image = CASE WHEN %(set_image)s THEN %(image)s ELSE image END
WHERE id = %(id)s
RETURNING *;

-- name: cars_order_count
-- How many orders (any status) reference the car. Used by: DELETE /api/cars/:id.
-- Index: orders_car_id_idx.
SELECT count(*) AS order_count
FROM orders
WHERE car_id = %(id)s;

-- name: cars_delete
-- Remove a listing; images, favorites, inquiries and reviews cascade.
-- Used by: DELETE /api/cars/:id.
DELETE FROM cars
WHERE id = %(id)s;

-- name: cars_set_approval
-- An admin's decision: new status and rejection reason (NULL clears it);
-- returns the updated row. Used by: PATCH /api/admin/cars/:id/approval.
UPDATE car_rows
SET
    status = %(status)s,
    rejection_reason = %(rejection_reason)s
WHERE id = %(id)s
RETURNING *;

-- name: cars_set_status
-- Set a car's status; returns the updated car.
-- Used by: PATCH /api/seller/inventory/:id/status, and selling a car (PATCH
-- /api/seller/orders/:id, POST /api/payments/confirm-payment).
UPDATE car_rows
SET status = %(status)s
WHERE id = %(id)s
RETURNING *;

-- name: cars_exists
-- Whether a car with this id exists (one row, true or false).
-- Used by: POST /api/favorites/toggle, GET /api/reviews/car/:carId, POST /api/reviews.
SELECT exists(
    SELECT 1
    FROM cars
    WHERE id = %(car_id)s
) AS found;

-- name: cars_list_snapshot
-- Makes the current transaction one snapshot (REPEATABLE READ; its first statement), so that a
-- list streamed in batches and its count see the same cars. Used by: GET /api/cars (no limit).
SET transaction_isolation = 'repeatable read';

-- name: cars_listed
-- Whether a car is listed publicly: it exists and its seller's account is not deactivated
-- (one row, true or false). Used by: GET /api/reviews/car/:carId, POST /api/reviews.
SELECT exists(
    SELECT 1
    FROM cars AS c
    WHERE
        c.id = %(car_id)s
        AND c.seller_active
) AS found;
