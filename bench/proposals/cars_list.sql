-- name: cars_list
-- One page of cars matching the optional filters, each with its primary image
-- columns (primary_image_*), and total_count, the number of matches before paging
-- (exact up to %(count_limit)s, which caps the counting; NULL counts every match);
-- one statement whatever the number of cars.
-- Used by: GET /api/cars, GET /api/admin/cars.
-- Indexes: cars_created_at_idx (newest/oldest), cars_price_idx, cars_year_idx,
-- cars_brand_idx, cars_search_idx, car_images_car_id_idx.
WITH matches AS NOT MATERIALIZED (
    -- Every filter is a bound parameter, NULL meaning "no filter". NOT MATERIALIZED:
    -- each use below is planned on its own, so the page can walk an index in the
    -- order asked for and stop after limit rows, and the count can stop at its cap.
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
        c.updated_at
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

-- One branch per sort order; sort is compared with constants, never spliced into
-- the text. PostgreSQL skips the branches whose sort does not match (one-time
-- filter), and the matching one reads the rows in index order and stops after
-- offset + limit of them (limit NULL = every match).
page AS (
    (
        SELECT
            m.*,
            NULL::real AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'newest'
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'oldest'
        ORDER BY m.created_at ASC, m.id ASC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'price_asc'
        ORDER BY m.price ASC NULLS LAST, m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'price_desc'
        ORDER BY m.price DESC NULLS LAST, m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'year_asc'
        ORDER BY m.year ASC NULLS LAST, m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            NULL::real AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'year_desc'
        ORDER BY m.year DESC NULLS LAST, m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
    UNION ALL
    (
        SELECT
            m.*,
            ts_rank(
                car_search_document(m.title, m.brand, m.model, m.description),
                car_search_query(%(q)s::text)
            ) AS rank
        FROM matches AS m
        WHERE %(sort)s::text = 'relevance'
        ORDER BY rank DESC NULLS LAST, m.created_at DESC, m.id DESC
        LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
    )
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
FROM (
    SELECT count(*) AS total_count
    -- in the default order, so that the count walks the same index as the page and
    -- stops at the cap (unordered, PostgreSQL would start a sequential scan)
    FROM (
        SELECT 1
        FROM matches AS m
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT %(count_limit)s::bigint
    ) AS counted
) AS totals
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
-- the page's own order again (on at most limit rows)
ORDER BY
    page.rank DESC NULLS LAST,
    CASE WHEN %(sort)s::text = 'price_asc' THEN page.price END ASC NULLS LAST,
    CASE WHEN %(sort)s::text = 'price_desc' THEN page.price END DESC NULLS LAST,
    CASE WHEN %(sort)s::text = 'year_asc' THEN page.year END ASC NULLS LAST,
    CASE WHEN %(sort)s::text = 'year_desc' THEN page.year END DESC NULLS LAST,
    CASE WHEN %(sort)s::text = 'oldest' THEN page.created_at END ASC,
    CASE WHEN %(sort)s::text = 'oldest' THEN page.id END ASC,
    page.created_at DESC,
    page.id DESC;
