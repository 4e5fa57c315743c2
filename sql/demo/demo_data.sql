-- Demo data at marketplace scale (cms demo-data, see cms/operations/demo_data.py).
--
-- Every row is generated set-based from generate_series: nothing is sent row
-- by row. Car number g (1..N within one run) gets the id base_id + g, reserved
-- up front from cars_id_seq, so that the statements for images, reviews,
-- orders and inquiries of a batch read their car by primary key, and so that
-- two connections can fill disjoint batches at the same time.
-- Pseudo-random choices come from pg_temp.demo_rand(g, seed, salt): a hash of
-- the car number, so the same --seed always gives the same listings whatever
-- the batch size or number of connections.
-- Statements that create temporary objects run once per connection.

-- name: demo_session_no_wait
-- Bulk-load setting for this connection only: a commit does not wait for the
-- WAL flush (a crash can lose the last batches, never consistency).
SET synchronous_commit = off;

-- name: demo_session_no_jit
-- No JIT compilation for this connection: each batch statement runs for well
-- under a second, less than compiling it would take.
SET jit = off;

-- name: demo_create_rand_function
-- A number in [0, 1) from the hash of (g, seed, salt); inlined by the planner.
CREATE FUNCTION pg_temp.demo_rand(g bigint, seed integer, salt integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(g, seed::bigint * 1000 + salt) & 4503599627370495)::double precision
        / 4503599627370496.0
$$;

-- name: demo_create_words
-- Word lists the descriptions, titles, names and reviews are built from (one row).
CREATE TEMPORARY TABLE demo_words AS
SELECT
    ARRAY[
        'Black', 'White', 'Silver', 'Grey', 'Blue', 'Red', 'Green', 'Beige', 'Brown', 'Orange'
    ] AS colors,
    ARRAY[
        'a sunroof', 'leather seats', 'navigation', 'heated seats', 'parking sensors',
        'a rear camera', 'cruise control', 'a tow hitch', 'a panoramic roof', 'alloy wheels',
        'Apple CarPlay', 'keyless entry', 'LED headlights', 'adaptive cruise control',
        'lane assist', 'Bluetooth', 'all-wheel drive', 'third row seating'
    ] AS features,
    ARRAY[
        'One owner.', 'Non-smoker.', 'Full service history.', 'New tyres.',
        'Accident free.', 'Garage kept.', 'Warranty included.', 'Scratch on the bumper.'
    ] AS conditions,
    ARRAY['Comfort', 'Sport', 'Premium', 'Touring', 'Limited', 'SE', 'GT Line', 'Executive', 'Active', 'Style']
        AS trims,
    ARRAY[
        'Anna', 'Ben', 'Carla', 'David', 'Elena', 'Felix', 'Grace', 'Hugo', 'Ines', 'Jonas',
        'Kira', 'Liam', 'Maria', 'Noah', 'Olga', 'Paul', 'Rosa', 'Sven', 'Tara', 'Viktor'
    ] AS first_names,
    ARRAY[
        'Adler', 'Brown', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Horvat', 'Ivanov', 'Jensen',
        'Keller', 'Lopez', 'Meyer', 'Novak', 'Olsen', 'Petrov', 'Rossi', 'Schmidt', 'Weber', 'Young'
    ] AS last_names,
    ARRAY[
        'Great car, exactly as described.', 'Smooth handover, friendly seller.',
        'Drives well, a few more scratches than in the photos.', 'Good value for the price.',
        'Quiet and economical on the motorway.', 'Had to wait for the papers, otherwise fine.',
        'Comfortable seats and plenty of room.', 'Would buy from this seller again.'
    ] AS comments,
    ARRAY[
        'Is the price negotiable?', 'Can I see the service history?',
        'Is the car still available?', 'Would you accept a trade-in?',
        'Has the timing belt been replaced?', 'Can I book a test drive this week?'
    ] AS questions;

-- name: demo_create_models
-- The brands and models listings are drawn from, numbered 1..n, with a base
-- price for a new car, the fuels it comes with and its first model year.
CREATE TEMPORARY TABLE demo_models AS
SELECT
    (row_number() OVER ())::integer AS n,
    catalog.brand,
    catalog.model,
    catalog.base_price,
    catalog.fuels,
    catalog.first_year
FROM (
    VALUES
    ('Toyota', 'Corolla', 24000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Toyota', 'Camry', 30000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Toyota', 'RAV4', 33000, ARRAY['Gasoline', 'Hybrid', 'Plug-in Hybrid'], 2005),
    ('Toyota', 'Yaris', 19000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Toyota', 'Land Cruiser', 65000, ARRAY['Diesel', 'Gasoline'], 2005),
    ('Volkswagen', 'Golf', 27000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Volkswagen', 'Passat', 34000, ARRAY['Diesel', 'Gasoline'], 2005),
    ('Volkswagen', 'Tiguan', 35000, ARRAY['Diesel', 'Gasoline', 'Plug-in Hybrid'], 2008),
    ('Volkswagen', 'Polo', 20000, ARRAY['Gasoline'], 2005),
    ('Volkswagen', 'ID.4', 42000, ARRAY['Electric'], 2021),
    ('Ford', 'Focus', 23000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Ford', 'Fiesta', 17000, ARRAY['Gasoline'], 2005),
    ('Ford', 'Mustang', 45000, ARRAY['Gasoline'], 2005),
    ('Ford', 'Kuga', 31000, ARRAY['Gasoline', 'Diesel', 'Plug-in Hybrid'], 2008),
    ('Ford', 'Ranger', 38000, ARRAY['Diesel'], 2005),
    ('BMW', '3 Series', 45000, ARRAY['Gasoline', 'Diesel', 'Plug-in Hybrid'], 2005),
    ('BMW', '5 Series', 58000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('BMW', 'X3', 50000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('BMW', 'i4', 56000, ARRAY['Electric'], 2021),
    ('Mercedes-Benz', 'C-Class', 46000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Mercedes-Benz', 'E-Class', 60000, ARRAY['Gasoline', 'Diesel', 'Plug-in Hybrid'], 2005),
    ('Mercedes-Benz', 'GLC', 52000, ARRAY['Gasoline', 'Diesel'], 2015),
    ('Mercedes-Benz', 'EQS', 105000, ARRAY['Electric'], 2021),
    ('Audi', 'A3', 33000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Audi', 'A4', 42000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Audi', 'Q5', 50000, ARRAY['Gasoline', 'Diesel', 'Plug-in Hybrid'], 2008),
    ('Audi', 'e-tron', 70000, ARRAY['Electric'], 2019),
    ('Honda', 'Civic', 25000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Honda', 'Accord', 29000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Honda', 'CR-V', 32000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Honda', 'Jazz', 19000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Hyundai', 'i30', 22000, ARRAY['Gasoline', 'Diesel'], 2007),
    ('Hyundai', 'Tucson', 30000, ARRAY['Gasoline', 'Diesel', 'Hybrid'], 2005),
    ('Hyundai', 'Ioniq 5', 45000, ARRAY['Electric'], 2021),
    ('Hyundai', 'Kona', 24000, ARRAY['Gasoline', 'Electric'], 2017),
    ('Kia', 'Ceed', 22000, ARRAY['Gasoline', 'Diesel'], 2007),
    ('Kia', 'Sportage', 30000, ARRAY['Gasoline', 'Diesel', 'Hybrid'], 2005),
    ('Kia', 'EV6', 48000, ARRAY['Electric'], 2021),
    ('Kia', 'Niro', 29000, ARRAY['Hybrid', 'Electric'], 2016),
    ('Nissan', 'Qashqai', 28000, ARRAY['Gasoline', 'Diesel'], 2007),
    ('Nissan', 'Leaf', 31000, ARRAY['Electric'], 2011),
    ('Nissan', 'Micra', 16000, ARRAY['Gasoline'], 2005),
    ('Nissan', 'X-Trail', 34000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Skoda', 'Octavia', 27000, ARRAY['Gasoline', 'Diesel', 'LPG'], 2005),
    ('Skoda', 'Superb', 36000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Skoda', 'Fabia', 18000, ARRAY['Gasoline'], 2005),
    ('Skoda', 'Enyaq', 44000, ARRAY['Electric'], 2021),
    ('Renault', 'Clio', 18000, ARRAY['Gasoline', 'Diesel', 'LPG'], 2005),
    ('Renault', 'Megane', 24000, ARRAY['Gasoline', 'Diesel', 'Electric'], 2005),
    ('Renault', 'Captur', 22000, ARRAY['Gasoline', 'Hybrid'], 2013),
    ('Renault', 'Zoe', 28000, ARRAY['Electric'], 2013),
    ('Peugeot', '208', 19000, ARRAY['Gasoline', 'Electric'], 2012),
    ('Peugeot', '308', 25000, ARRAY['Gasoline', 'Diesel'], 2007),
    ('Peugeot', '3008', 32000, ARRAY['Gasoline', 'Plug-in Hybrid'], 2009),
    ('Volvo', 'XC40', 39000, ARRAY['Gasoline', 'Electric'], 2018),
    ('Volvo', 'XC60', 50000, ARRAY['Diesel', 'Plug-in Hybrid'], 2008),
    ('Volvo', 'V60', 45000, ARRAY['Diesel', 'Gasoline'], 2010),
    ('Tesla', 'Model 3', 42000, ARRAY['Electric'], 2017),
    ('Tesla', 'Model Y', 47000, ARRAY['Electric'], 2020),
    ('Tesla', 'Model S', 85000, ARRAY['Electric'], 2012),
    ('Mazda', 'Mazda3', 24000, ARRAY['Gasoline'], 2005),
    ('Mazda', 'CX-5', 30000, ARRAY['Gasoline', 'Diesel'], 2012),
    ('Mazda', 'MX-5', 31000, ARRAY['Gasoline'], 2005),
    ('Subaru', 'Outback', 33000, ARRAY['Gasoline'], 2005),
    ('Subaru', 'Forester', 31000, ARRAY['Gasoline', 'Hybrid'], 2005),
    ('Fiat', '500', 17000, ARRAY['Gasoline', 'Electric'], 2007),
    ('Fiat', 'Panda', 14000, ARRAY['Gasoline', 'LPG'], 2005),
    ('Fiat', 'Tipo', 19000, ARRAY['Gasoline', 'Diesel', 'LPG'], 2016),
    ('Opel', 'Astra', 24000, ARRAY['Gasoline', 'Diesel'], 2005),
    ('Opel', 'Corsa', 18000, ARRAY['Gasoline', 'Electric'], 2005),
    ('Dacia', 'Sandero', 13000, ARRAY['Gasoline', 'LPG'], 2008),
    ('Dacia', 'Duster', 19000, ARRAY['Gasoline', 'Diesel', 'LPG'], 2010),
    ('Porsche', '911', 120000, ARRAY['Gasoline'], 2005),
    ('Porsche', 'Taycan', 95000, ARRAY['Electric'], 2020),
    ('Porsche', 'Macan', 70000, ARRAY['Gasoline'], 2014)
) AS catalog (brand, model, base_price, fuels, first_year);

-- name: demo_insert_users
-- The demo accounts: one admin, n_sellers sellers and n_buyers buyers, all
-- with the same password hash; accounts left by an earlier run are kept.
-- Returns nothing.
INSERT INTO users (name, email, password_hash, role, is_active, phone, address, created_at, updated_at)
SELECT
    accounts.name,
    accounts.email,
    %(password_hash)s,
    accounts.role,
    TRUE,
    '+1 555 ' || lpad(mod(accounts.k, 10000)::text, 4, '0'),
    (1 + mod(accounts.k, 400))::text || ' Market Street',
    accounts.created_at,
    accounts.created_at AS updated_at
FROM (
    SELECT
        0 AS k,
        'Demo Admin' AS name,
        'demo.admin@example.com' AS email,
        'admin' AS role,
        %(base_time)s::timestamp - interval '4 years' AS created_at
    UNION ALL
    SELECT
        k,
        w.first_names[1 + mod(k, 20)] || ' ' || w.last_names[1 + mod(k / 20, 20)] || ' Motors',
        'demo.seller' || k || '@example.com',
        'seller',
        %(base_time)s::timestamp - interval '4 years' + k * interval '1 hour'
    FROM generate_series(1, %(n_sellers)s::integer) AS k
    CROSS JOIN demo_words AS w
    UNION ALL
    SELECT
        k,
        w.first_names[1 + mod(k, 20)] || ' ' || w.last_names[1 + mod(k / 20, 20)],
        'demo.buyer' || k || '@example.com',
        'user',
        %(base_time)s::timestamp - interval '3 years' + k * interval '5 minutes'
    FROM generate_series(1, %(n_buyers)s::integer) AS k
    CROSS JOIN demo_words AS w
) AS accounts
ON CONFLICT ((lower(btrim(email)))) DO NOTHING;

-- name: demo_create_user_maps
-- Temporary tables demo_sellers(k, id, name) and demo_buyers(k, id, name)
-- numbering the demo accounts 1..n. Run demo_fill_user_maps next.
CREATE TEMPORARY TABLE demo_accounts (
    role text NOT NULL,
    k integer NOT NULL,
    id integer NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (role, k)
);

-- name: demo_fill_user_maps
-- Number the demo accounts by the k in their email (demo.seller<k>@..., demo.buyer<k>@...).
INSERT INTO demo_accounts (role, k, id, name)
SELECT
    users.role,
    substring(users.email FROM '^demo\.(?:seller|buyer)(\d+)@example\.com$')::integer,
    users.id,
    users.name
FROM users
WHERE
    users.role IN ('seller', 'user')
    AND users.email ~ '^demo\.(seller|buyer)\d+@example\.com$';

-- name: demo_analyze_user_maps
-- Statistics for the temporary account map (the planner cannot see temp tables otherwise).
ANALYZE demo_accounts;

-- name: demo_admin_id
-- The id of the demo admin (one row).
SELECT id
FROM users
WHERE lower(btrim(email)) = 'demo.admin@example.com';

-- name: demo_reserve_car_ids
-- Reserve n consecutive car ids; returns base_id (car g gets base_id + g).
SELECT setval('cars_id_seq', nextval('cars_id_seq') + %(n)s::bigint - 1) - %(n)s::bigint AS base_id;

-- name: demo_insert_cars
-- Cars g = first..last of this run, id base_id + g, spread over the three
-- years before base_time (oldest first, so ids follow created_at).
INSERT INTO cars (
    id, title, price, description, seller_id, status, brand, model, year, fuel_type, image,
    rejection_reason, created_at, updated_at
)
SELECT
    %(base_id)s::bigint + spec.g,
    spec.brand || ' ' || spec.model || ' ' || w.trims[1 + floor(spec.r_trim * 10)::integer],
    greatest(
        1500,
        round(spec.base_price * power(0.87, spec.age) * (0.85 + 0.3 * spec.r_price) / 50) * 50
    )::numeric(10, 2),
    w.colors[1 + floor(spec.r_color * 10)::integer] || ', '
    || spec.mileage || ' km, '
    || CASE WHEN spec.r_gear < 0.55 THEN 'automatic' ELSE 'manual' END || ', '
    || lower(spec.fuel) || ', with '
    || w.features[1 + floor(spec.r_feature1 * 18)::integer] || ' and '
    || w.features[1 + floor(spec.r_feature2 * 18)::integer] || '. '
    || w.conditions[1 + floor(spec.r_condition * 8)::integer],
    sellers.id,
    spec.status,
    spec.brand,
    spec.model,
    spec.year,
    spec.fuel,
    '/images/car' || (1 + mod(spec.g, 3)) || '.png',
    CASE WHEN spec.status = 'rejected' THEN 'Photos do not show the car described' END,
    spec.created_at,
    least(spec.created_at + (spec.r_price * interval '20 days'), %(base_time)s::timestamp)
FROM (
    SELECT
        s.*,
        extract(YEAR FROM %(base_time)s::timestamp)::integer - s.age AS year,
        s.fuels[1 + floor(s.r_fuel * array_length(s.fuels, 1))::integer] AS fuel,
        (s.age * 12000 + floor(s.r_mileage * 15000 / 100) * 100)::integer AS mileage,
        CASE
            WHEN s.r_status < 0.78 THEN 'available'
            WHEN s.r_status < 0.83 THEN 'pending'
            WHEN s.r_status < 0.86 THEN 'reserved'
            WHEN s.r_status < 0.98 THEN 'sold'
            ELSE 'rejected'
        END AS status,
        %(base_time)s::timestamp
        - (%(total)s::bigint - s.g) * (interval '3 years' / %(total)s::bigint)
        - s.r_trim * interval '1 hour' AS created_at
    FROM (
        SELECT
            r.*,
            m.brand,
            m.model,
            m.base_price,
            m.fuels,
            least(
                floor(power(r.r_age, 1.6) * 18)::integer,
                extract(YEAR FROM %(base_time)s::timestamp)::integer - m.first_year
            ) AS age
        FROM (
            SELECT
                g,
                pg_temp.demo_rand(g, %(seed)s, 1) AS r_model,
                pg_temp.demo_rand(g, %(seed)s, 2) AS r_age,
                pg_temp.demo_rand(g, %(seed)s, 3) AS r_price,
                pg_temp.demo_rand(g, %(seed)s, 4) AS r_fuel,
                pg_temp.demo_rand(g, %(seed)s, 5) AS r_status,
                pg_temp.demo_rand(g, %(seed)s, 6) AS r_trim,
                pg_temp.demo_rand(g, %(seed)s, 7) AS r_color,
                pg_temp.demo_rand(g, %(seed)s, 8) AS r_gear,
                pg_temp.demo_rand(g, %(seed)s, 9) AS r_feature1,
                pg_temp.demo_rand(g, %(seed)s, 10) AS r_feature2,
                pg_temp.demo_rand(g, %(seed)s, 11) AS r_condition,
                pg_temp.demo_rand(g, %(seed)s, 12) AS r_mileage,
                pg_temp.demo_rand(g, %(seed)s, 13) AS r_seller
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
        ) AS r
        INNER JOIN demo_models AS m
            ON m.n = 1 + floor(r.r_model * (SELECT count(*) FROM demo_models))::integer
    ) AS s
) AS spec
CROSS JOIN demo_words AS w
INNER JOIN demo_accounts AS sellers
    ON
        sellers.role = 'seller'
        -- a few sellers list many cars, most list a few
        AND sellers.k = 1 + floor(power(spec.r_seller, 1.5) * %(n_sellers)s)::integer;

-- name: demo_insert_images
-- One to three gallery rows per car of the batch (plain links, no bytes); the first is primary.
INSERT INTO car_images (car_id, image_url, is_primary, display_order, created_at, updated_at)
SELECT
    cars.id,
    '/images/car' || (1 + mod(cars.id + position, 3)) || '.png',
    position = 0,
    position,
    cars.created_at,
    cars.created_at AS updated_at
FROM cars
CROSS JOIN
    LATERAL generate_series(
        0, floor(pg_temp.demo_rand(cars.id - %(base_id)s::bigint, %(seed)s, 20) * 3)::integer
    ) AS position
WHERE cars.id BETWEEN %(base_id)s::bigint + %(first)s::bigint AND %(base_id)s::bigint + %(last)s::bigint;

-- name: demo_insert_reviews
-- Zero to three reviews per listed car of the batch, each by a different buyer.
INSERT INTO reviews (car_id, user_id, user_name, rating, comment, created_at)
SELECT
    picks.car_id,
    buyers.id,
    buyers.name,
    CASE
        WHEN picks.r_rating < 0.40 THEN 5
        WHEN picks.r_rating < 0.70 THEN 4
        WHEN picks.r_rating < 0.85 THEN 3
        WHEN picks.r_rating < 0.93 THEN 2
        ELSE 1
    END,
    w.comments[1 + floor(picks.r_comment * 8)::integer],
    least(picks.created_at + (1 + floor(picks.r_comment * 60)::integer) * interval '1 day', %(base_time)s::timestamp)
FROM (
    SELECT
        cars.id AS car_id,
        cars.created_at,
        -- different buyers for the reviews of one car: k, k + n/4, k + n/2
        1 + mod(
            floor(pg_temp.demo_rand(ordinal.g, %(seed)s, 30) * %(n_buyers)s)::integer
            + nth * greatest(1, %(n_buyers)s::integer / 4),
            %(n_buyers)s::integer
        ) AS buyer_k,
        pg_temp.demo_rand(ordinal.g * 4 + nth, %(seed)s, 32) AS r_rating,
        pg_temp.demo_rand(ordinal.g * 4 + nth, %(seed)s, 33) AS r_comment
    FROM cars
    CROSS JOIN LATERAL (SELECT cars.id - %(base_id)s::bigint AS g) AS ordinal
    CROSS JOIN
        LATERAL generate_series(
            0,
            CASE
                WHEN pg_temp.demo_rand(ordinal.g, %(seed)s, 31) < 0.45 THEN -1
                WHEN pg_temp.demo_rand(ordinal.g, %(seed)s, 31) < 0.75 THEN 0
                WHEN pg_temp.demo_rand(ordinal.g, %(seed)s, 31) < 0.92 THEN 1
                ELSE 2
            END
        ) AS nth
    WHERE
        cars.id BETWEEN %(base_id)s::bigint + %(first)s::bigint AND %(base_id)s::bigint + %(last)s::bigint
        AND cars.status IN ('available', 'reserved', 'sold')
) AS picks
CROSS JOIN demo_words AS w
INNER JOIN demo_accounts AS buyers
    ON
        buyers.role = 'user'
        AND buyers.k = picks.buyer_k
ON CONFLICT (car_id, user_id) DO NOTHING;

-- name: demo_insert_orders
-- Orders of the batch: one paid or completed order per sold car (never two:
-- orders_one_sale_per_car), a pending one per reserved car, and a cancelled
-- checkout for about one available car in twenty-five.
INSERT INTO orders (car_id, buyer_id, seller_id, final_price, status, documents, created_at, updated_at)
SELECT
    picks.id AS car_id,
    buyers.id AS buyer_id,
    picks.seller_id,
    round((picks.price * (0.94 + 0.06 * picks.r_order))::numeric, 2),
    picks.order_status,
    CASE
        WHEN picks.order_status = 'completed'
            THEN jsonb_build_array(jsonb_build_object(
                'name', 'Bill of sale',
                'url', '/documents/bill-of-sale-' || picks.id || '.pdf',
                'uploadedAt', to_char(picks.created_at + interval '10 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            ))
        ELSE '[]'::jsonb
    END,
    least(picks.created_at + (1 + floor(picks.r_order * 30)::integer) * interval '1 day', %(base_time)s::timestamp),
    least(picks.created_at + (5 + floor(picks.r_order * 30)::integer) * interval '1 day', %(base_time)s::timestamp)
FROM (
    SELECT
        cars.id,
        cars.seller_id,
        cars.price,
        cars.created_at,
        pg_temp.demo_rand(cars.id - %(base_id)s::bigint, %(seed)s, 40) AS r_order,
        1 + floor(pg_temp.demo_rand(cars.id - %(base_id)s::bigint, %(seed)s, 41) * %(n_buyers)s)::integer AS buyer_k,
        CASE
            WHEN cars.status = 'sold' AND pg_temp.demo_rand(cars.id - %(base_id)s::bigint, %(seed)s, 42) < 0.6
                THEN 'completed'
            WHEN cars.status = 'sold' THEN 'paid'
            WHEN cars.status = 'reserved' AND pg_temp.demo_rand(cars.id - %(base_id)s::bigint, %(seed)s, 42) < 0.5
                THEN 'pending_payment'
            WHEN cars.status = 'reserved' THEN 'pending'
            WHEN pg_temp.demo_rand(cars.id - %(base_id)s::bigint, %(seed)s, 43) < 0.04 THEN 'cancelled'
        END AS order_status
    FROM cars
    WHERE
        cars.id BETWEEN %(base_id)s::bigint + %(first)s::bigint AND %(base_id)s::bigint + %(last)s::bigint
        AND cars.status IN ('available', 'reserved', 'sold')
) AS picks
INNER JOIN demo_accounts AS buyers
    ON
        buyers.role = 'user'
        AND buyers.k = picks.buyer_k
WHERE picks.order_status IS NOT NULL;

-- name: demo_insert_inquiries
-- Zero to two inquiries per listed car of the batch; about a third are test-drive requests.
INSERT INTO inquiries (
    car_id, user_id, seller_id, message, status, type, requested_date, response, created_at, updated_at
)
SELECT
    picks.car_id,
    buyers.id,
    picks.seller_id,
    w.questions[1 + floor(picks.r_message * 6)::integer],
    picks.status,
    CASE WHEN picks.r_type < 0.33 THEN 'test_drive' ELSE 'general' END,
    CASE WHEN picks.r_type < 0.33 THEN (picks.asked_at + (2 + floor(picks.r_type * 30)) * interval '1 day')::date END,
    CASE WHEN picks.status <> 'open' THEN 'Thanks for asking, please call me to arrange it.' END,
    picks.asked_at,
    least(picks.asked_at + interval '1 day', %(base_time)s::timestamp)
FROM (
    SELECT
        cars.id AS car_id,
        cars.seller_id,
        least(cars.created_at + (1 + nth * 3) * interval '1 hour', %(base_time)s::timestamp) AS asked_at,
        1 + floor(pg_temp.demo_rand(ordinal.g * 2 + nth, %(seed)s, 51) * %(n_buyers)s)::integer AS buyer_k,
        pg_temp.demo_rand(ordinal.g * 2 + nth, %(seed)s, 52) AS r_message,
        pg_temp.demo_rand(ordinal.g * 2 + nth, %(seed)s, 53) AS r_type,
        CASE
            WHEN pg_temp.demo_rand(ordinal.g * 2 + nth, %(seed)s, 54) < 0.5 THEN 'open'
            WHEN pg_temp.demo_rand(ordinal.g * 2 + nth, %(seed)s, 54) < 0.85 THEN 'responded'
            ELSE 'closed'
        END AS status
    FROM cars
    CROSS JOIN LATERAL (SELECT cars.id - %(base_id)s::bigint AS g) AS ordinal
    CROSS JOIN
        LATERAL generate_series(
            0,
            CASE
                WHEN pg_temp.demo_rand(ordinal.g, %(seed)s, 50) < 0.6 THEN -1
                WHEN pg_temp.demo_rand(ordinal.g, %(seed)s, 50) < 0.9 THEN 0
                ELSE 1
            END
        ) AS nth
    WHERE
        cars.id BETWEEN %(base_id)s::bigint + %(first)s::bigint AND %(base_id)s::bigint + %(last)s::bigint
        AND cars.status IN ('available', 'reserved', 'sold')
) AS picks
CROSS JOIN demo_words AS w
INNER JOIN demo_accounts AS buyers
    ON
        buyers.role = 'user'
        AND buyers.k = picks.buyer_k;

-- name: demo_insert_admin_actions
-- An approval (or rejection) by the demo admin for one car in fifty of the batch.
INSERT INTO admin_actions (admin_id, action_type, target_id, details, created_at)
SELECT
    %(admin_id)s::integer,
    CASE WHEN cars.status = 'rejected' THEN 'reject_car' ELSE 'approve_car' END,
    cars.id,
    jsonb_build_object('status', cars.status, 'title', cars.title),
    least(cars.created_at + interval '2 hours', %(base_time)s::timestamp)
FROM cars
WHERE
    cars.id BETWEEN %(base_id)s::bigint + %(first)s::bigint AND %(base_id)s::bigint + %(last)s::bigint
    AND cars.status <> 'pending'
    AND mod(cars.id - %(base_id)s::bigint, 50) = 0;

-- name: demo_insert_favorites
-- Buyers k = first..last mark zero to sixteen of this run's cars (about
-- eight on average) as favorites; duplicates are skipped.
INSERT INTO favorites (user_id, car_id, created_at)
SELECT
    picks.user_id,
    cars.id,
    least(cars.created_at + interval '3 days', %(base_time)s::timestamp)
FROM (
    SELECT DISTINCT
        buyers.id AS user_id,
        %(base_id)s::bigint + 1
        + floor(pg_temp.demo_rand(buyers.k::bigint * 32 + nth, %(seed)s, 61) * %(total)s)::bigint AS car_id
    FROM demo_accounts AS buyers
    CROSS JOIN
        LATERAL generate_series(
            1, floor(pg_temp.demo_rand(buyers.k, %(seed)s, 60) * 17)::integer
        ) AS nth
    WHERE
        buyers.role = 'user'
        AND buyers.k BETWEEN %(first)s AND %(last)s
) AS picks
INNER JOIN cars ON cars.id = picks.car_id
ON CONFLICT ON CONSTRAINT unique_user_car DO NOTHING;

-- name: demo_vacuum_analyze
-- Set hint bits and the visibility map (index-only scans) and refresh the
-- planner statistics of every table demo data wrote to.
VACUUM (ANALYZE) users, cars, car_images, reviews, orders, inquiries, favorites, admin_actions;

-- name: demo_table_counts
-- Rows per table after the run (one row).
SELECT
    (SELECT count(*) FROM users) AS users,
    (SELECT count(*) FROM cars) AS cars,
    (SELECT count(*) FROM car_images) AS car_images,
    (SELECT count(*) FROM reviews) AS reviews,
    (SELECT count(*) FROM orders) AS orders,
    (SELECT count(*) FROM inquiries) AS inquiries,
    (SELECT count(*) FROM favorites) AS favorites,
    (SELECT count(*) FROM admin_actions) AS admin_actions;
