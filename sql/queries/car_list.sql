-- The car lists (GET /api/cars, GET /api/admin/cars): one short query per sort
-- order and one count. Each has a {filters} slot, which the repository
-- (cms/repositories/car_list.py) fills with the filters the request gives, taken
-- from car_list_filters below and joined with AND (TRUE when none): fixed text
-- from this file, never text from the request; values are bound parameters.
-- Each query walks its (sort key, id) index from the cursor's car and returns only
-- the page's ids and sort keys; car_list_page_rows then reads those cars (with their
-- primary image, car_list_rows). Two statements, because the page with the rows in
-- one statement had to be planned for every request (0.4-0.6 ms at 1M, more than
-- running it): a query with a LIMIT parameter never switches to its generic plan
-- (PostgreSQL guesses a tenth of the rows for an unknown LIMIT), while the ids alone
-- plan in ~0.1 ms and car_list_page_rows keeps one generic plan.

-- name: car_list_filters
-- The filters of the car lists, each after its `-- filter:` line; a list takes the
-- ones its request gives. Run as it stands it counts the cars matching all of them.
-- Used by: GET /api/cars, GET /api/admin/cars (composed into the queries below).
-- Index: cars_search_document_idx, cars_brand_created_at_idx,
-- cars_price_id_idx.
SELECT count(*) AS matches
FROM cars AS c
WHERE
    -- filter: listed
    -- Every public list: not the cars of a deactivated seller (seller_active, kept by
    -- triggers from users.is_active: migration 0041).
    c.seller_active
    -- filter: q
    AND c.search_document @@ car_search_query(%(q)s::text)
    -- filter: brand
    AND lower(c.brand) = lower(%(brand)s::text)
    -- filter: model
    AND lower(c.model) = lower(%(model)s::text)
    -- filter: fuel_type
    AND lower(c.fuel_type) = lower(%(fuel_type)s::text)
    -- filter: status
    AND c.status = %(status)s::text
    -- filter: seller_id
    AND c.seller_id = %(seller_id)s::integer
    -- filter: min_price
    AND c.price >= %(min_price)s::numeric
    -- filter: max_price
    AND c.price <= %(max_price)s::numeric
    -- filter: min_year
    AND c.year >= %(min_year)s::integer
    -- filter: max_year
    AND c.year <= %(max_year)s::integer;

-- name: car_list_count
-- How many cars match the filters, counted up to count_limit (NULL: all of them).
-- Unordered: PostgreSQL counts from the most selective index of the filters given.
-- Used by: GET /api/cars, GET /api/admin/cars (with a filter other than q).
SELECT count(*) AS total_count
FROM (
    SELECT
    FROM cars AS c  -- noqa: AL05
    WHERE {filters}
    LIMIT %(count_limit)s::bigint
) AS matches;

-- name: car_list_count_newest_first
-- How many cars match the filters, counted up to count_limit (NULL: all of them),
-- walking the cars newest first: with no filter or with q, an unordered count
-- would read cars sequentially or build the whole bitmap of a common word first.
-- Used by: GET /api/cars, GET /api/admin/cars (no filter, or q). Index: cars_created_at_idx.
SELECT count(*) AS total_count
FROM (
    SELECT
    FROM cars AS c
    WHERE {filters}
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT %(count_limit)s::bigint
) AS matches;

-- name: car_list_newest
-- The ids of one page of cars, newest first (ties: higher id first), starting after the car
-- at (after_time, after_id) (NULL: at the start); sort_key is created_at as text.
-- Used by: GET /api/cars, GET /api/admin/cars. Index: cars_created_at_idx.
SELECT
    c.id,
    c.created_at::text AS sort_key
FROM cars AS c
WHERE
    {filters}
    AND (c.created_at, c.id)
    < (coalesce(%(after_time)s::timestamp, 'infinity'), coalesce(%(after_id)s::integer, 2147483647))
ORDER BY c.created_at DESC, c.id DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_oldest
-- The ids of one page of cars, oldest first (ties: lower id first), starting after the car at
-- (after_time, after_id) (NULL: at the start); sort_key is created_at as text.
-- Used by: GET /api/cars?sort=oldest. Index: cars_created_at_idx.
SELECT
    c.id,
    c.created_at::text AS sort_key
FROM cars AS c
WHERE
    {filters}
    AND (c.created_at, c.id)
    > (coalesce(%(after_time)s::timestamp, '-infinity'), coalesce(%(after_id)s::integer, 0))
ORDER BY c.created_at ASC, c.id ASC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_price_asc
-- The ids of one page of cars, cheapest first (ties: lower id first), starting after the car at
-- (after_price, after_id) (NULL: at the start); sort_key is the price as text.
-- Used by: GET /api/cars?sort=price_asc. Index: cars_price_id_idx.
SELECT
    c.id,
    c.price::text AS sort_key
FROM cars AS c
WHERE
    {filters}
    AND (c.price, c.id) > (coalesce(%(after_price)s::numeric, '-Infinity'), coalesce(%(after_id)s::integer, 0))
ORDER BY c.price ASC, c.id ASC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_price_desc
-- The ids of one page of cars, dearest first (ties: higher id first), starting after the car at
-- (after_price, after_id) (NULL: at the start); sort_key is the price as text.
-- Used by: GET /api/cars?sort=price_desc. Index: cars_price_id_idx (read backwards).
SELECT
    c.id,
    c.price::text AS sort_key
FROM cars AS c
WHERE
    {filters}
    AND (c.price, c.id)
    < (coalesce(%(after_price)s::numeric, 'Infinity'), coalesce(%(after_id)s::integer, 2147483647))
ORDER BY c.price DESC, c.id DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_year_asc
-- The ids of one page of cars, oldest model year first, cars without a year last (ties: lower id
-- first), starting after the car at (after_year, after_id) (NULL: at the start);
-- sort_key is the year (2147483647 for none) as text.
-- Used by: GET /api/cars?sort=year_asc. Index: cars_year_asc_id_idx.
SELECT
    c.id,
    coalesce(c.year, 2147483647)::text AS sort_key
FROM cars AS c
WHERE
    {filters}
    AND (coalesce(c.year, 2147483647), c.id)
    > (coalesce(%(after_year)s::integer, -2147483647), coalesce(%(after_id)s::integer, 0))
ORDER BY coalesce(c.year, 2147483647) ASC, c.id ASC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_year_desc
-- The ids of one page of cars, newest model year first, cars without a year last (ties: higher
-- id first), starting after the car at (after_year, after_id) (NULL: at the start);
-- sort_key is the year (-2147483647 for none) as text.
-- Used by: GET /api/cars?sort=year_desc. Index: cars_year_desc_id_idx.
SELECT
    c.id,
    coalesce(c.year, -2147483647)::text AS sort_key
FROM cars AS c
WHERE
    {filters}
    AND (coalesce(c.year, -2147483647), c.id)
    < (coalesce(%(after_year)s::integer, 2147483647), coalesce(%(after_id)s::integer, 2147483647))
ORDER BY coalesce(c.year, -2147483647) DESC, c.id DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_relevance
-- The ids of one page of the matches of q, best match first (ts_rank of the weighted stored
-- document: title above brand and model above description; ties: higher id first), over
-- every match, starting after the car at (after_rank, after_id) (NULL: at the start);
-- sort_key is the rank as text. The filters are q (and listed): with any other filter,
-- car_list_relevance_filtered.
-- A q of one word (one prefix, numnode 1) ranks only the matches that rank above the lowest
-- rank, found through cars_search_ranked_words_idx (migration 0038 says why that finds
-- them all); every other match ranks lowest, so when the page needs them they follow in id
-- order, walking cars_pkey or, when they are few (as the statistics of
-- cars_search_description_words_idx tell), through that index. A q of several words ranks
-- every match. The statement is planned for its q (never prepared), so the branches of the
-- other case fold away.
-- Used by: GET /api/cars?q=…&sort=relevance. Index: cars_search_ranked_words_idx,
-- cars_search_description_words_idx, cars_pkey, cars_search_document_idx.
WITH ranked AS (
    -- One word: the matches above the lowest rank; several words: every match. Best first.
    SELECT
        c.id,
        ts_rank(c.search_document, car_search_query(%(q)s::text)) AS rank
    FROM cars AS c
    WHERE
        (
            numnode(car_search_query(%(q)s::text)) <> 1
            OR car_search_ranked_words(c.search_document) @@ car_search_query(%(q)s::text)
        )
        AND {filters}
        AND (ts_rank(c.search_document, car_search_query(%(q)s::text)), c.id)
        < (coalesce(%(after_rank)s::real, 'Infinity'), coalesce(%(after_id)s::integer, 2147483647))
    ORDER BY rank DESC, c.id DESC
    LIMIT %(limit)s::bigint + %(offset)s::bigint
)

SELECT
    page.id,
    page.rank::text AS sort_key
FROM (
    SELECT
        ranked.id,
        ranked.rank
    FROM ranked
    UNION ALL
    (
        -- One word, when the page is still short: the lowest-rank matches, newest first,
        -- below the cursor's car if it has the lowest rank. ts_rank says which they are;
        -- description words are there for their index and statistics (implied by the rank).
        SELECT
            c.id,
            car_search_lowest_rank() AS rank
        FROM cars AS c
        WHERE
            numnode(car_search_query(%(q)s::text)) = 1
            AND (SELECT count(*) FROM ranked) < %(limit)s::bigint + %(offset)s::bigint
            AND c.id < CASE
                WHEN coalesce(%(after_rank)s::real, 'Infinity') > car_search_lowest_rank() THEN 2147483647
                WHEN %(after_rank)s::real = car_search_lowest_rank() THEN %(after_id)s::integer
                ELSE 0
            END
            AND {filters}
            AND ts_rank(c.search_document, car_search_query(%(q)s::text)) <= car_search_lowest_rank()
            AND car_search_description_words(c.search_document) @@ car_search_query(%(q)s::text)
        ORDER BY c.id DESC
        LIMIT %(limit)s::bigint + %(offset)s::bigint
    )
) AS page
ORDER BY page.rank DESC, page.id DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_relevance_filtered
-- car_list_relevance for q with another filter (brand, price, ...): the same page, but the
-- lowest-rank matches are not found by one walk of cars_pkey, as a filter beside q can make
-- them rare where PostgreSQL expects many (electric Toyotas: such a walk read every car for
-- none, 1.1 s). They are read among the 2,000 cars below the cursor's (a short walk) and,
-- only when those hold too few, the older ones as a set, sorted.
-- Used by: GET /api/cars?q=…&sort=relevance&brand=… (or any other filter). Index:
-- cars_search_ranked_words_idx, cars_pkey, cars_search_description_words_idx,
-- cars_search_document_idx (and those of the other filters).
WITH ranked AS (
    -- One word: the matches above the lowest rank; several words: every match. Best first.
    SELECT
        c.id,
        ts_rank(c.search_document, car_search_query(%(q)s::text)) AS rank
    FROM cars AS c
    WHERE
        (
            numnode(car_search_query(%(q)s::text)) <> 1
            OR car_search_ranked_words(c.search_document) @@ car_search_query(%(q)s::text)
        )
        AND {filters}
        AND (ts_rank(c.search_document, car_search_query(%(q)s::text)), c.id)
        < (coalesce(%(after_rank)s::real, 'Infinity'), coalesce(%(after_id)s::integer, 2147483647))
    ORDER BY rank DESC, c.id DESC
    LIMIT %(limit)s::bigint + %(offset)s::bigint
),

lowest AS NOT MATERIALIZED (
    -- One word: the matches of the lowest rank (ts_rank says which; the description words
    -- are implied by it, there for their index and its statistics). Inlined where used.
    SELECT c.id
    FROM cars AS c
    WHERE
        numnode(car_search_query(%(q)s::text)) = 1
        AND {filters}
        AND ts_rank(c.search_document, car_search_query(%(q)s::text)) <= car_search_lowest_rank()
        AND car_search_description_words(c.search_document) @@ car_search_query(%(q)s::text)
),

walk AS (
    -- Where the lowest-rank matches continue (below start_id), and the 2,000th car below it.
    SELECT
        bound.start_id,
        coalesce((
            SELECT k.id
            FROM cars AS k
            WHERE k.id < bound.start_id
            ORDER BY k.id DESC
            LIMIT 1 OFFSET 1999
        ), 0) AS end_id
    FROM (
        SELECT
            CASE
                WHEN coalesce(%(after_rank)s::real, 'Infinity') > car_search_lowest_rank() THEN 2147483647
                WHEN %(after_rank)s::real = car_search_lowest_rank() THEN %(after_id)s::integer
                ELSE 0
            END AS start_id
    ) AS bound
),

newest_lowest AS (
    -- When the page is still short: the lowest-rank matches among those 2,000 cars.
    SELECT lowest.id
    FROM lowest
    WHERE
        (SELECT count(*) FROM ranked) < %(limit)s::bigint + %(offset)s::bigint
        AND lowest.id < (SELECT walk.start_id FROM walk)
        AND lowest.id >= (SELECT walk.end_id FROM walk)
    ORDER BY lowest.id DESC
    LIMIT %(limit)s::bigint + %(offset)s::bigint
)

SELECT
    page.id,
    page.rank::text AS sort_key
FROM (
    SELECT
        ranked.id,
        ranked.rank
    FROM ranked
    UNION ALL
    SELECT
        newest_lowest.id,
        car_search_lowest_rank() AS rank
    FROM newest_lowest
    UNION ALL
    (
        -- When the page is still short: older lowest-rank matches. `id + 0`: sorted after
        -- reading them, never a walk of cars_pkey, which could read every older car for none.
        SELECT
            lowest.id,
            car_search_lowest_rank() AS rank
        FROM lowest
        WHERE
            (SELECT count(*) FROM ranked) + (SELECT count(*) FROM newest_lowest)
            < %(limit)s::bigint + %(offset)s::bigint
            AND lowest.id < (SELECT walk.end_id FROM walk)
        ORDER BY lowest.id + 0 DESC
        LIMIT %(limit)s::bigint + %(offset)s::bigint
    )
) AS page
ORDER BY page.rank DESC, page.id DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint;

-- name: car_list_page_rows
-- The cars of a page that a car_list_<sort> query found: each car of `ids`, in that
-- order, as car_list_rows shows it (with its primary image). A car deleted in between
-- is left out. Used by: GET /api/cars, GET /api/admin/cars. Index: cars_pkey.
SELECT car.*
FROM unnest(%(ids)s::integer[]) WITH ORDINALITY AS page (id, position)
INNER JOIN car_list_rows AS car ON page.id = car.id
ORDER BY page.position;
