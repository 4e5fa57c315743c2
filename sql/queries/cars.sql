-- name: cars_list
-- One page of cars matching the optional filters, each with its primary image
-- columns (primary_image_*), and total_count, the number of matches before paging;
-- one statement whatever the number of cars (see the notes in the statement).
-- Used by: GET /api/cars, GET /api/admin/cars.
-- Index: cars_search_idx, car_images_car_id_idx.
WITH matches AS (
    -- Every filter is a bound parameter, NULL meaning "no filter"; sort is one of the
    -- names the API accepts (newest, oldest, price_asc, price_desc, year_asc, year_desc,
    -- relevance), matched by CASE, never spliced into the text.
    SELECT
        c.id,
        c.title,
        c.price,
        c.description,
        c.seller_id,
        c.status,
        c.brand,
        c.model,
        c.year,
        c.fuel_type,
        c.image,
        c.rejection_reason,
        c.created_at,
        c.updated_at,
        row_number() OVER (
            ORDER BY
                CASE
                    WHEN %(sort)s::text = 'relevance'
                        THEN
                            ts_rank(
                                car_search_document(c.title, c.brand, c.model, c.description),
                                car_search_query(%(q)s::text)
                            )
                END DESC NULLS LAST,
                CASE WHEN %(sort)s::text = 'price_asc' THEN c.price END ASC NULLS LAST,
                CASE WHEN %(sort)s::text = 'price_desc' THEN c.price END DESC NULLS LAST,
                CASE WHEN %(sort)s::text = 'year_asc' THEN c.year END ASC NULLS LAST,
                CASE WHEN %(sort)s::text = 'year_desc' THEN c.year END DESC NULLS LAST,
                CASE WHEN %(sort)s::text = 'oldest' THEN c.created_at END ASC,
                CASE WHEN %(sort)s::text = 'oldest' THEN c.id END ASC,
                c.created_at DESC,
                c.id DESC
        ) AS position
    FROM cars AS c
    WHERE
        (
            %(q)s::text IS NULL
            OR car_search_document(c.title, c.brand, c.model, c.description) @@ car_search_query(%(q)s::text)
        )
        AND (%(brand)s::text IS NULL OR lower(c.brand) = lower(%(brand)s::text))
        AND (%(model)s::text IS NULL OR lower(c.model) = lower(%(model)s::text))
        AND (%(fuel_type)s::text IS NULL OR lower(c.fuel_type) = lower(%(fuel_type)s::text))
        AND (%(status)s::text IS NULL OR c.status = %(status)s::text)
        AND (%(seller_id)s::integer IS NULL OR c.seller_id = %(seller_id)s::integer)
        AND (%(min_price)s::numeric IS NULL OR c.price >= %(min_price)s::numeric)
        AND (%(max_price)s::numeric IS NULL OR c.price <= %(max_price)s::numeric)
        AND (%(min_year)s::integer IS NULL OR c.year >= %(min_year)s::integer)
        AND (%(max_year)s::integer IS NULL OR c.year <= %(max_year)s::integer)
),

page AS (
    SELECT *
    FROM matches
    WHERE
        position > %(offset)s::bigint
        AND (%(limit)s::bigint IS NULL OR position <= %(offset)s::bigint + %(limit)s::bigint)
)

-- The primary image (or the first image when none is marked primary) comes from a
-- LATERAL join on the page's rows only. When the page is empty (no match, or offset
-- past the end), one row still comes back with total_count and NULL car columns.
-- A data: URL left in image_url (one migration 0008 could not decode) comes back
-- as NULL: image bytes never leave the database here.
SELECT
    totals.total_count,
    page.id,
    page.title,
    page.price,
    page.description,
    page.seller_id,
    page.status,
    page.brand,
    page.model,
    page.year,
    page.fuel_type,
    page.image,
    page.rejection_reason,
    page.created_at,
    page.updated_at,
    primary_image.id AS primary_image_id,
    primary_image.car_id AS primary_image_car_id,
    primary_image.image_url AS primary_image_image_url,
    primary_image.is_primary AS primary_image_is_primary,
    primary_image.display_order AS primary_image_display_order,
    primary_image.created_at AS primary_image_created_at,
    primary_image.updated_at AS primary_image_updated_at,
    primary_image.has_file AS primary_image_has_file
FROM (SELECT count(*) AS total_count FROM matches) AS totals
LEFT JOIN page ON TRUE
LEFT JOIN LATERAL (
    SELECT
        i.id,
        i.car_id,
        CASE WHEN starts_with(i.image_url, 'data:') THEN NULL ELSE i.image_url END AS image_url,
        i.is_primary,
        i.display_order,
        i.created_at,
        i.updated_at,
        exists(SELECT 1 FROM car_image_files AS f WHERE f.image_id = i.id) AS has_file
    FROM car_images AS i
    WHERE i.car_id = page.id
    ORDER BY i.is_primary DESC, i.display_order ASC, i.id ASC
    LIMIT 1
) AS primary_image ON TRUE
ORDER BY page.position;

-- name: cars_get_detail
-- One car with average_rating (2 decimals, NULL without reviews) and
-- review_count, or no row. Used by: GET /api/cars/:id.
-- Index: reviews_one_per_user_and_car.
SELECT
    c.id,
    c.title,
    c.price,
    c.description,
    c.seller_id,
    c.status,
    c.brand,
    c.model,
    c.year,
    c.fuel_type,
    c.image,
    c.rejection_reason,
    c.created_at,
    c.updated_at,
    ratings.average_rating,
    ratings.review_count
FROM cars AS c
CROSS JOIN
    LATERAL (
        SELECT
            round(avg(r.rating), 2) AS average_rating,
            count(*) AS review_count
        FROM reviews AS r
        WHERE r.car_id = c.id
    ) AS ratings
WHERE c.id = %(id)s;

-- name: cars_get
-- One car (no lock), or no row.
-- Used by: POST /api/cars/:carId/images (ownership check before decoding the files),
-- GET /api/cars/:carId/images.
SELECT
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at
FROM cars
WHERE id = %(id)s;

-- name: cars_lock
-- One car, locked FOR UPDATE until the end of the transaction, or no row.
-- Serialises every write to a car and its images (image count, primary flag).
-- Used by: PUT/DELETE /api/cars/:id, POST/PUT/DELETE /api/cars/:carId/images...,
-- PATCH /api/admin/cars/:id/approval.
SELECT
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at
FROM cars
WHERE id = %(id)s
FOR UPDATE;

-- name: cars_insert
-- Create a listing, status pending, owned by the caller; returns the new row.
-- Used by: POST /api/cars.
INSERT INTO cars (title, price, description, seller_id, status, brand, model, year, fuel_type, image)
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
RETURNING
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at;

-- name: cars_update
-- Change the editable fields whose set_<field> flag is true (status, seller,
-- id and timestamps are not among them); returns the updated row.
-- Used by: PUT /api/cars/:id.
UPDATE cars
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
RETURNING
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at;

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
UPDATE cars
SET
    status = %(status)s,
    rejection_reason = %(rejection_reason)s
WHERE id = %(id)s
RETURNING
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at;
