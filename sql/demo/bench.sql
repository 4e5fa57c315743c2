-- Helper statements of the benchmark harness (bench/run.py), run on the
-- cms_bench_* databases only.

-- name: bench_insert_pool_cars
-- n available cars of the given seller for the checkout flow (one per
-- checkout); returns their ids.
INSERT INTO cars (title, price, description, seller_id, status, brand, model, year, fuel_type, image)
SELECT
    'Bench checkout car ' || g,
    15000 + mod(g, 100) * 100,
    'Reserved for the checkout benchmark.',
    %(seller_id)s,
    'available',
    'Benchmark',
    'Pool',
    2020,
    'Gasoline',
    '/images/car1.png'
FROM generate_series(1, %(n)s::integer) AS g
RETURNING id;

-- name: bench_delete_pool_orders
-- Remove the orders of the given pool cars (orders keep cars from being deleted).
DELETE FROM orders
WHERE car_id = any(%(ids)s::integer[]);

-- name: bench_delete_pool_cars
-- Remove the given pool cars (their images, reviews, favorites and inquiries cascade).
DELETE FROM cars
WHERE id = any(%(ids)s::integer[]);

-- name: bench_existing_cars
-- Which of the given ids are cars with the given status (many rows).
SELECT id
FROM cars
WHERE
    id = any(%(ids)s::integer[])
    AND status = %(status)s;

-- name: bench_reviewed_cars
-- Which of the given car ids have at least one review (many rows).
SELECT DISTINCT car_id
FROM reviews
WHERE car_id = any(%(ids)s::integer[]);

-- name: bench_car_id_range
-- Smallest and largest car id (one row).
SELECT
    min(id) AS first_id,
    max(id) AS last_id
FROM cars;

-- name: bench_user_id
-- The id of the account with this email (one row or none).
SELECT id
FROM users
WHERE lower(btrim(email)) = lower(btrim(%(email)s));

-- name: bench_password_hash
-- The password hash of the account with this email (one row or none).
SELECT password_hash
FROM users
WHERE lower(btrim(email)) = lower(btrim(%(email)s));

-- name: bench_database_comment
-- The comment of a database (the bench's marker of what it holds); no row when the database does not exist.
SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS comment
FROM pg_database
WHERE datname = %(name)s;

-- name: bench_server_facts
-- PostgreSQL version and the settings that matter for the benchmark (one row).
SELECT
    current_setting('server_version') AS version,
    current_setting('shared_buffers') AS shared_buffers,
    current_setting('max_connections') AS max_connections;

-- name: bench_position
-- Sort key (as text, as the list queries give it) and id of the car at this depth of a sort order of
-- GET /api/cars: a cursor's position. Sorts every car (a few seconds at 1M): run once per run.
SELECT
    CASE
        WHEN %(sort)s IN ('newest', 'oldest') THEN created_at::text
        WHEN %(sort)s IN ('price_asc', 'price_desc') THEN price::text
        WHEN %(sort)s = 'year_asc' THEN coalesce(year, 2147483647)::text
        ELSE coalesce(year, -2147483647)::text
    END AS sort_key,
    id
FROM cars
ORDER BY
    CASE WHEN %(sort)s = 'newest' THEN created_at END DESC,
    CASE WHEN %(sort)s = 'oldest' THEN created_at END ASC,
    CASE WHEN %(sort)s = 'price_asc' THEN price END ASC,
    CASE WHEN %(sort)s = 'price_desc' THEN price END DESC,
    CASE WHEN %(sort)s = 'year_asc' THEN coalesce(year, 2147483647) END ASC,
    CASE WHEN %(sort)s = 'year_desc' THEN coalesce(year, -2147483647) END DESC,
    CASE WHEN %(sort)s IN ('oldest', 'price_asc', 'year_asc') THEN id END ASC,
    id DESC
LIMIT 1 OFFSET %(depth)s;

-- name: bench_floor_newest_cars
-- The floor app's one statement (bench/floor_app.py): the 20 newest cars, each with its
-- primary image (else its first by display order) as plain columns; prepared on first use.
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
    c.created_at,
    c.updated_at,
    i.id AS primary_image_id,
    i.image_url AS primary_image_url,
    i.is_primary AS primary_image_is_primary,
    i.display_order AS primary_image_display_order
FROM cars AS c
LEFT JOIN LATERAL (
    SELECT
        f.id,
        f.image_url,
        f.is_primary,
        f.display_order
    FROM car_images AS f
    WHERE f.car_id = c.id
    ORDER BY f.is_primary DESC, f.display_order ASC, f.id ASC
    LIMIT 1
) AS i ON TRUE
ORDER BY c.created_at DESC, c.id DESC
LIMIT 20;
