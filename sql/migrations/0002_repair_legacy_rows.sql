-- Why: the old server checked nothing, so adopted databases may hold values
-- that the constraints of the next migration refuse (unknown statuses, ratings
-- outside 1-5, duplicate reviews, two primary images, double-encoded JSON).
-- This migration repairs such rows in place and records every repair, with the
-- original value, in legacy_row_repairs: nothing is lost and a person can
-- review each decision. Emails that differ only in case cannot be repaired
-- automatically (two accounts would share a login): the migration stops with
-- an explicit error naming them. On a new, empty database it changes nothing.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE legacy_row_repairs (
    id bigserial CONSTRAINT legacy_row_repairs_pkey PRIMARY KEY,
    table_name text NOT NULL,
    row_id integer NOT NULL,
    column_name text NOT NULL,
    old_value jsonb,
    new_value jsonb,
    reason text NOT NULL,
    repaired_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

COMMENT ON TABLE legacy_row_repairs IS
'Every value changed or row removed while adopting an old database, with its original value.';
COMMENT ON COLUMN legacy_row_repairs.id IS 'Surrogate key.';
COMMENT ON COLUMN legacy_row_repairs.table_name IS 'Table of the repaired row.';
COMMENT ON COLUMN legacy_row_repairs.row_id IS 'Primary key of the repaired row.';
COMMENT ON COLUMN legacy_row_repairs.column_name IS 'Repaired column, or * when the whole row was removed.';
COMMENT ON COLUMN legacy_row_repairs.old_value IS 'Value (or whole row) before the repair.';
COMMENT ON COLUMN legacy_row_repairs.new_value IS 'Value after the repair; NULL when the row was removed.';
COMMENT ON COLUMN legacy_row_repairs.reason IS 'Why the value was changed.';
COMMENT ON COLUMN legacy_row_repairs.repaired_at IS 'When the repair ran (UTC).';

-- Emails equal up to case and surrounding blanks: refuse to guess which account wins.
DO $$
DECLARE
    clashes text;
BEGIN
    SELECT string_agg(emails, '; ')
      INTO clashes
      FROM (
            SELECT string_agg(email || ' (id ' || id || ')', ', ' ORDER BY id) AS emails
              FROM users
             GROUP BY lower(btrim(email))
            HAVING count(*) > 1
           ) AS duplicates;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'cannot adopt this database: these accounts share an email up to letter case: %', clashes
            USING HINT = 'Rename or merge them (UPDATE users SET email = ...), then run the migration again.';
    END IF;
END
$$;

-- Normalise a status-like column: lower case, blanks and dashes to "_";
-- values still outside the allowed list (and NULLs) get the fallback value.
CREATE FUNCTION pg_temp.repair_enum_column(
    target_table text, target_column text, allowed text[], fallback text
) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format(
        $sql$
        WITH changed AS (
            SELECT id,
                   %2$I AS old_value,
                   CASE
                       WHEN regexp_replace(lower(btrim(%2$I)), '[^a-z]+', '_', 'g') = ANY ($1)
                           THEN regexp_replace(lower(btrim(%2$I)), '[^a-z]+', '_', 'g')
                       ELSE $2
                   END AS new_value
              FROM %1$I
             WHERE %2$I IS NULL OR NOT (%2$I = ANY ($1))
        ),
        logged AS (
            INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
            SELECT %1$L, id, %2$L, to_jsonb(old_value), to_jsonb(new_value),
                   CASE
                       WHEN old_value IS NULL THEN 'missing value replaced by the default'
                       WHEN new_value = $2
                        AND regexp_replace(lower(btrim(old_value)), '[^a-z]+', '_', 'g') <> $2
                           THEN 'value outside the allowed list replaced by the default'
                       ELSE 'value normalised to its canonical spelling'
                   END
              FROM changed
        )
        UPDATE %1$I AS t
           SET %2$I = changed.new_value
          FROM changed
         WHERE t.id = changed.id
        $sql$,
        target_table, target_column
    ) USING allowed, fallback;
END
$fn$;

-- The admin console of the old server stored "approved" for approved cars.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'cars',
    id,
    'status',
    to_jsonb(status),
    to_jsonb('available'::text),
    'approved listings are stored as available'
FROM cars
WHERE lower(btrim(status)) = 'approved';
UPDATE cars SET status = 'available' WHERE lower(btrim(status)) = 'approved';

-- Roles are not normalised: the old server granted rights only to exactly
-- 'seller' or 'admin', so 'Admin' or 'SELLER' must not become a privilege now.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'users',
    id,
    'role',
    to_jsonb(role),
    to_jsonb('user'::text),
    CASE
        WHEN role IS NULL THEN 'missing value replaced by the default'
        ELSE 'unknown role replaced by user (no rights the old server did not grant)'
    END
FROM users
WHERE role IS NULL OR role NOT IN ('user', 'seller', 'admin');
UPDATE users SET role = 'user' WHERE role IS NULL OR role NOT IN ('user', 'seller', 'admin');

SELECT pg_temp.repair_enum_column(
    'cars', 'status', ARRAY['pending', 'available', 'reserved', 'sold', 'rejected'], 'pending'
);
SELECT pg_temp.repair_enum_column(
    'orders', 'status',
    ARRAY['draft', 'pending', 'pending_payment', 'paid', 'completed', 'cancelled'], 'draft'
);
SELECT pg_temp.repair_enum_column('inquiries', 'status', ARRAY['open', 'responded', 'closed'], 'open');
SELECT pg_temp.repair_enum_column('inquiries', 'type', ARRAY['general', 'test_drive'], 'general');

-- Flags and orders that the API treats as non-null.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'users',
    id,
    'is_active',
    NULL,
    'true',
    'missing value replaced by the default'
FROM users WHERE is_active IS NULL;
UPDATE users SET is_active = TRUE WHERE is_active IS NULL;

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'car_images',
    id,
    'display_order',
    to_jsonb(display_order),
    '0',
    'missing or negative order replaced by 0'
FROM car_images WHERE display_order IS NULL OR display_order < 0;
UPDATE car_images SET display_order = 0 WHERE display_order IS NULL OR display_order < 0;

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'car_images',
    id,
    'is_primary',
    NULL,
    'false',
    'missing value replaced by the default'
FROM car_images WHERE is_primary IS NULL;
UPDATE car_images SET is_primary = FALSE WHERE is_primary IS NULL;

-- Ratings outside 1-5 are clamped into the range.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'reviews',
    id,
    'rating',
    to_jsonb(rating),
    to_jsonb(greatest(1, least(5, rating))),
    'rating outside 1-5 clamped into the range'
FROM reviews WHERE rating NOT BETWEEN 1 AND 5;
UPDATE reviews SET rating = greatest(1, least(5, rating)) WHERE rating NOT BETWEEN 1 AND 5;

-- A listing without a price cannot be shown (the browse page formats every
-- price) or sold: it goes back to pending with price 0, so that its seller
-- sets a price before an admin approves it again.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'cars',
    id,
    'status',
    to_jsonb(status),
    '"pending"',
    'listing without a price taken off sale'
FROM cars WHERE price IS NULL AND status NOT IN ('pending', 'rejected', 'sold');
UPDATE cars SET status = 'pending'
WHERE price IS NULL AND status NOT IN ('pending', 'rejected', 'sold');

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'cars',
    id,
    'price',
    NULL,
    '0',
    'missing price replaced by 0'
FROM cars WHERE price IS NULL;
UPDATE cars SET price = 0 WHERE price IS NULL;

-- Orders and inquiries without a seller belong to the seller of their car.
WITH filled AS (
    UPDATE orders
    SET seller_id = cars.seller_id
    FROM cars
    WHERE orders.seller_id IS NULL AND orders.car_id = cars.id AND cars.seller_id IS NOT NULL
    RETURNING orders.id, orders.seller_id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'orders',
    id,
    'seller_id',
    NULL,
    to_jsonb(seller_id),
    'missing seller taken from the car'
FROM filled;

WITH filled AS (
    UPDATE inquiries
    SET seller_id = cars.seller_id
    FROM cars
    WHERE inquiries.seller_id IS NULL AND inquiries.car_id = cars.id AND cars.seller_id IS NOT NULL
    RETURNING inquiries.id, inquiries.seller_id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'inquiries',
    id,
    'seller_id',
    NULL,
    to_jsonb(seller_id),
    'missing seller taken from the car'
FROM filled;

-- A favorite without its user or car means nothing and escapes the one-row-per-
-- user-and-car rule: such rows are removed (kept whole in legacy_row_repairs).
WITH removed AS (
    DELETE FROM favorites
    WHERE user_id IS NULL OR car_id IS NULL
    RETURNING favorites.*
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'favorites',
    removed.id,
    '*',
    to_jsonb(removed),
    NULL,
    'favorite without its user or car'
FROM removed;

-- Negative money becomes 0.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'cars',
    id,
    'price',
    to_jsonb(price),
    '0',
    'negative price replaced by 0'
FROM cars WHERE price < 0;
UPDATE cars SET price = 0 WHERE price < 0;

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'orders',
    id,
    'final_price',
    to_jsonb(final_price),
    '0',
    'negative price replaced by 0'
FROM orders WHERE final_price < 0;
UPDATE orders SET final_price = 0 WHERE final_price < 0;

-- One review per user and car: the newest stays, older ones are removed
-- (their whole row is kept in legacy_row_repairs).
WITH ranked AS (
    SELECT
        id,
        row_number() OVER (
            PARTITION BY car_id, user_id ORDER BY created_at DESC NULLS LAST, id DESC
        ) AS position
    FROM reviews
    WHERE car_id IS NOT NULL AND user_id IS NOT NULL
),

removed AS (
    DELETE FROM reviews
    USING ranked
    WHERE reviews.id = ranked.id AND ranked.position > 1
    RETURNING reviews.*
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'reviews',
    removed.id,
    '*',
    to_jsonb(removed),
    NULL,
    'older duplicate review of the same car by the same user'
FROM removed;

-- One primary image per car: the first by display order stays primary.
WITH ranked AS (
    SELECT
        id,
        row_number() OVER (PARTITION BY car_id ORDER BY display_order, id) AS position
    FROM car_images
    WHERE is_primary
),

demoted AS (
    UPDATE car_images
    SET is_primary = FALSE
    FROM ranked
    WHERE car_images.id = ranked.id AND ranked.position > 1
    RETURNING car_images.id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'car_images',
    id,
    'is_primary',
    'true',
    'false',
    'second primary image of the same car'
FROM demoted;

-- A car that has images but no primary one gets its first image as primary.
WITH first_images AS (
    SELECT DISTINCT ON (car_id) id
    FROM car_images AS candidate
    WHERE
        NOT EXISTS (
            SELECT 1 FROM car_images AS other
            WHERE other.car_id = candidate.car_id AND other.is_primary
        )
    ORDER BY car_id, display_order, id
),

promoted AS (
    UPDATE car_images
    SET is_primary = TRUE
    FROM first_images
    WHERE car_images.id = first_images.id
    RETURNING car_images.id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'car_images',
    id,
    'is_primary',
    'false',
    'true',
    'car had images but no primary image'
FROM promoted;

-- A car is sold at most once: the earliest paid or completed order stays,
-- later ones (the old server could sell a car twice) are cancelled.
WITH ranked AS (
    SELECT
        id,
        status,
        row_number() OVER (PARTITION BY car_id ORDER BY created_at NULLS LAST, id) AS position
    FROM orders
    WHERE status IN ('paid', 'completed') AND car_id IS NOT NULL
),

cancelled AS (
    UPDATE orders
    SET status = 'cancelled'
    FROM ranked
    WHERE orders.id = ranked.id AND ranked.position > 1
    RETURNING orders.id, ranked.status AS old_status
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'orders',
    id,
    'status',
    to_jsonb(old_status),
    '"cancelled"',
    'second sale of the same car'
FROM cancelled;

-- JSON documents stored as a JSON string holding JSON are decoded once.
CREATE FUNCTION pg_temp.parse_jsonb(document text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
    RETURN document::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$fn$;

WITH decoded AS (
    SELECT
        id,
        details AS old_value,
        pg_temp.parse_jsonb(details #>> '{}') AS new_value
    FROM admin_actions
    WHERE jsonb_typeof(details) = 'string'
),

updated AS (
    UPDATE admin_actions
    SET details = decoded.new_value
    FROM decoded
    WHERE admin_actions.id = decoded.id AND decoded.new_value IS NOT NULL
    RETURNING admin_actions.id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'admin_actions',
    decoded.id,
    'details',
    decoded.old_value,
    decoded.new_value,
    'double-encoded JSON decoded'
FROM decoded INNER JOIN updated ON updated.id = decoded.id;

WITH decoded AS (
    SELECT
        id,
        documents AS old_value,
        pg_temp.parse_jsonb(documents #>> '{}') AS new_value
    FROM orders
    WHERE jsonb_typeof(documents) = 'string'
),

updated AS (
    UPDATE orders
    SET documents = decoded.new_value
    FROM decoded
    WHERE orders.id = decoded.id AND jsonb_typeof(decoded.new_value) = 'array'
    RETURNING orders.id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'orders',
    decoded.id,
    'documents',
    decoded.old_value,
    decoded.new_value,
    'double-encoded JSON decoded'
FROM decoded INNER JOIN updated ON updated.id = decoded.id;

-- Documents that are still not a JSON array become an empty list.
INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'orders',
    id,
    'documents',
    documents,
    '[]',
    'documents were not a JSON array'
FROM orders WHERE documents IS NOT NULL AND jsonb_typeof(documents) <> 'array';
UPDATE orders SET documents = '[]' WHERE documents IS NOT NULL AND jsonb_typeof(documents) <> 'array';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table

-- Put every original value back, newest repair first, then drop the record.
DO $$
DECLARE
    repair record;
BEGIN
    FOR repair IN SELECT * FROM legacy_row_repairs ORDER BY id DESC LOOP
        IF repair.column_name = '*' THEN
            EXECUTE format(
                'INSERT INTO %1$I SELECT (jsonb_populate_record(NULL::%1$I, $1)).*',
                repair.table_name
            ) USING repair.old_value;
        ELSE
            EXECUTE format(
                'UPDATE %1$I SET %2$I = (jsonb_populate_record(NULL::%1$I, jsonb_build_object(%2$L, $1))).%2$I'
                ' WHERE id = $2',
                repair.table_name, repair.column_name
            ) USING repair.old_value, repair.row_id;
        END IF;
    END LOOP;
END
$$;

DROP TABLE legacy_row_repairs;
