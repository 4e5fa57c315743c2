-- name: cars_list
-- One page of cars matching the optional filters, each with its primary image
-- columns (primary_image_*) and sort_key (the row's sort key as text, for the next
-- page's cursor), and total_count, the number of matches counted up to count_limit;
-- one statement whatever the number of cars. The page starts after the row whose sort
-- key (after_time, after_price, after_year or after_rank, as the sort order has it) and
-- id are given (NULL: at the start), then skips offset rows.
-- Used by: GET /api/cars, GET /api/admin/cars.
-- Index: cars_created_at_idx, cars_price_id_idx, cars_year_asc_id_idx, cars_year_desc_id_idx,
-- cars_brand_created_at_idx, cars_search_idx, car_images_one_primary_per_car,
-- car_images_car_id_idx, car_images_pkey.
-- Never prepared: with every filter optional, a generic plan cannot use the index
-- of the filters given (with q: cars_search_idx) and reads every car for a rare
-- word or filter (tests/test_query_plans.py; the sort orders alone keep their
-- index walk in a generic plan: the bench's generic-plan table).
WITH matches AS NOT MATERIALIZED (
    -- Every filter is a bound parameter, NULL meaning "no filter". NOT MATERIALIZED:
    -- each use below is planned on its own, so the page can walk an index in the
    -- order asked for and stop after offset + limit rows, and the count at its cap.
    SELECT c.*
    FROM car_rows AS c
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

-- One branch per sort order; sort is compared with constants, never spliced into
-- the text. PostgreSQL skips the branches whose sort does not match (one-time
-- filter), and the matching one walks its (sort key, id) index from the cursor's row
-- on and stops after offset + limit rows (limit NULL: every match). The cursor
-- bounds are never NULL (the start of the order stands in), so the walk starts at
-- the cursor in a generic plan too. A NULL year sorts last both ways.
page AS (
    (
        SELECT
            m.*,
            NULL::real AS rank,
            m.created_at::text AS sort_key
        FROM matches AS m
        WHERE
            %(sort)s::text = 'newest'
            AND (m.created_at, m.id) < (
                coalesce(%(after_time)s::timestamp, 'infinity'::timestamp), coalesce(%(after_id)s::integer, 2147483647)
            )
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank,
            m.created_at::text AS sort_key
        FROM matches AS m
        WHERE
            %(sort)s::text = 'oldest'
            AND (m.created_at, m.id) > (
                coalesce(%(after_time)s::timestamp, '-infinity'::timestamp), coalesce(%(after_id)s::integer, 0)
            )
        ORDER BY m.created_at ASC, m.id ASC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank,
            m.price::text AS sort_key
        FROM matches AS m
        WHERE
            %(sort)s::text = 'price_asc'
            AND (m.price, m.id) > (
                coalesce(%(after_price)s::numeric, '-Infinity'::numeric), coalesce(%(after_id)s::integer, 0)
            )
        ORDER BY m.price ASC, m.id ASC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank,
            m.price::text AS sort_key
        FROM matches AS m
        WHERE
            %(sort)s::text = 'price_desc'
            AND (m.price, m.id) < (
                coalesce(%(after_price)s::numeric, 'Infinity'::numeric), coalesce(%(after_id)s::integer, 2147483647)
            )
        ORDER BY m.price DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank,
            coalesce(m.year, 2147483647)::text AS sort_key
        FROM matches AS m
        WHERE
            %(sort)s::text = 'year_asc'
            AND (coalesce(m.year, 2147483647), m.id) > (
                coalesce(%(after_year)s::integer, -2147483647), coalesce(%(after_id)s::integer, 0)
            )
        ORDER BY coalesce(m.year, 2147483647) ASC, m.id ASC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank,
            coalesce(m.year, -2147483647)::text AS sort_key
        FROM matches AS m
        WHERE
            %(sort)s::text = 'year_desc'
            AND (coalesce(m.year, -2147483647), m.id) < (
                coalesce(%(after_year)s::integer, 2147483647), coalesce(%(after_id)s::integer, 2147483647)
            )
        ORDER BY coalesce(m.year, -2147483647) DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        -- Relevance ranks a bounded candidate set: the newest relevance_candidates
        -- matches (the walk the default sort makes), never every match. Ranking reads
        -- each candidate's whole text (to_tsvector), so its cost grows with the set.
        SELECT
            ranked.*,
            ranked.rank::text AS sort_key
        FROM (
            SELECT
                newest.*,
                ts_rank(
                    car_search_document(newest.title, newest.brand, newest.model, newest.description),
                    car_search_query(%(q)s::text)
                ) AS rank
            FROM (
                SELECT m.*
                FROM matches AS m
                WHERE %(sort)s::text = 'relevance'
                ORDER BY m.created_at DESC, m.id DESC
                LIMIT %(relevance_candidates)s::bigint
            ) AS newest
        ) AS ranked
        WHERE
            (ranked.rank, ranked.id) < (
                coalesce(%(after_rank)s::real, 'Infinity'::real), coalesce(%(after_id)s::integer, 2147483647)
            )
        ORDER BY ranked.rank DESC, ranked.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
),

-- The matches, up to count_limit of them; one of two branches runs (one-time filter).
-- With no filter, or with q, the count walks cars_created_at_idx as the page does:
-- unordered, PostgreSQL would read cars sequentially (no filter) or build the whole
-- GIN bitmap of a common word (q) before it could stop. With other filters it is
-- unordered, so PostgreSQL counts from the most selective index and stops at the cap.
counted AS (
    (
        SELECT 1 AS matched
        FROM matches AS m
        WHERE
            %(q)s::text IS NOT NULL
            OR num_nonnulls(
                %(brand)s::text, %(model)s::text, %(fuel_type)s::text, %(status)s::text, %(seller_id)s::integer,
                %(min_price)s::numeric, %(max_price)s::numeric, %(min_year)s::integer, %(max_year)s::integer
            ) = 0
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT %(count_limit)s::bigint
    )
    UNION ALL
    (
        SELECT 1 AS matched
        FROM matches
        WHERE
            %(q)s::text IS NULL
            AND num_nonnulls(
                %(brand)s::text, %(model)s::text, %(fuel_type)s::text, %(status)s::text, %(seller_id)s::integer,
                %(min_price)s::numeric, %(max_price)s::numeric, %(min_year)s::integer, %(max_year)s::integer
            ) > 0
        LIMIT %(count_limit)s::bigint
    )
)

-- The primary image (or, when none is marked primary, the first by display order) is
-- looked up for the page's rows only: the primary through the partial unique index
-- car_images_one_primary_per_car (COALESCE evaluates its second argument only when the
-- first is NULL), then the row itself. When the page is empty (no match, or offset
-- past the end), one row still comes back with total_count and NULL car columns.
-- Columns as the views car_rows and car_image_rows give them (a data: URL left in
-- image_url comes back as NULL: image bytes never leave the database here); page.*
-- ends with rank (NULL unless sort is relevance) and sort_key.
SELECT
    totals.total_count,
    page.*,
    primary_image.id AS primary_image_id,
    primary_image.car_id AS primary_image_car_id,
    primary_image.image_url AS primary_image_image_url,
    primary_image.is_primary AS primary_image_is_primary,
    primary_image.display_order AS primary_image_display_order,
    primary_image.created_at AS primary_image_created_at,
    primary_image.updated_at AS primary_image_updated_at,
    primary_image.has_file AS primary_image_has_file
FROM (SELECT count(*) AS total_count FROM counted) AS totals
LEFT JOIN page ON TRUE
LEFT JOIN LATERAL (
    SELECT
        coalesce(
            (SELECT p.id FROM car_images AS p WHERE p.car_id = page.id AND p.is_primary),
            (SELECT f.id FROM car_images AS f WHERE f.car_id = page.id ORDER BY f.display_order ASC, f.id ASC LIMIT 1)
        ) AS id
) AS first_image ON TRUE
LEFT JOIN LATERAL (
    SELECT i.*
    FROM car_image_rows AS i
    WHERE i.id = first_image.id
) AS primary_image ON TRUE
-- the page's own order again (on the page's rows only)
ORDER BY
    page.rank DESC NULLS LAST,
    CASE WHEN %(sort)s::text = 'price_asc' THEN page.price END ASC,
    CASE WHEN %(sort)s::text = 'price_desc' THEN page.price END DESC,
    CASE WHEN %(sort)s::text = 'year_asc' THEN coalesce(page.year, 2147483647) END ASC,
    CASE WHEN %(sort)s::text = 'year_desc' THEN coalesce(page.year, -2147483647) END DESC,
    CASE WHEN %(sort)s::text = 'oldest' THEN page.created_at END ASC,
    CASE WHEN %(sort)s::text IN ('oldest', 'price_asc', 'year_asc') THEN page.id END ASC,
    CASE WHEN %(sort)s::text IN ('price_desc', 'year_desc', 'relevance') THEN page.id END DESC,
    page.created_at DESC,
    page.id DESC;

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
    AND NOT EXISTS (SELECT FROM users AS s WHERE s.id = c.seller_id AND NOT s.is_active);

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
        AND NOT EXISTS (SELECT FROM users AS s WHERE s.id = c.seller_id AND NOT s.is_active)
) AS found;
