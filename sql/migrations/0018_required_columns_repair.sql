-- Why: old deployments declare 33 columns NOT NULL that 0001 creates nullable,
-- so a database migrated from empty accepted rows an adopted one refuses (a
-- user without email, a car without seller). 0018-0020 give every database
-- the old deployments' NOT NULL columns, whatever its history. This first step
-- repairs the rows that would break them and adds the rules as NOT VALID
-- checks (0019 validates them, 0020 turns them into NOT NULL). Missing values
-- with a safe default are filled in and recorded in legacy_row_repairs (old
-- value NULL). Missing references and credentials (who bought, which car,
-- which email or password) are not guessed: the migration stops naming the
-- rows, and nothing is changed. Old deployments hold no such NULL, so on them
-- this step only adds the checks.

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- Fill one column's NULLs with an expression over the row (t), recording each value.
CREATE FUNCTION pg_temp.fill_missing(target_table text, target_column text, filler text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format(
        $sql$
        WITH filled AS (
            UPDATE %1$I AS t
               SET %2$I = %3$s
             WHERE t.%2$I IS NULL
            RETURNING t.id, t.%2$I AS new_value
        )
        INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
        SELECT %1$L, id, %2$L, NULL, to_jsonb(new_value), 'missing value filled in before NOT NULL'
          FROM filled
        $sql$,
        target_table, target_column, filler
    );
END
$fn$;

SELECT pg_temp.fill_missing('orders', 'seller_id', '(SELECT seller_id FROM cars WHERE cars.id = t.car_id)');
SELECT pg_temp.fill_missing('inquiries', 'seller_id', '(SELECT seller_id FROM cars WHERE cars.id = t.car_id)');

-- Rows still missing a reference or a credential stop the migration.
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(format('%s.%s (id %s)', table_name, column_name, ids), '; ')
      INTO missing
      FROM (
            SELECT 'users' AS table_name, 'email' AS column_name, string_agg(id::text, ', ') AS ids
              FROM users WHERE email IS NULL
            UNION ALL
            SELECT 'users', 'password_hash', string_agg(id::text, ', ') FROM users WHERE password_hash IS NULL
            UNION ALL
            SELECT 'cars', 'seller_id', string_agg(id::text, ', ') FROM cars WHERE seller_id IS NULL
            UNION ALL
            SELECT 'orders', 'car_id', string_agg(id::text, ', ') FROM orders WHERE car_id IS NULL
            UNION ALL
            SELECT 'orders', 'buyer_id', string_agg(id::text, ', ') FROM orders WHERE buyer_id IS NULL
            UNION ALL
            SELECT 'orders', 'seller_id', string_agg(id::text, ', ') FROM orders WHERE seller_id IS NULL
            UNION ALL
            SELECT 'inquiries', 'car_id', string_agg(id::text, ', ') FROM inquiries WHERE car_id IS NULL
            UNION ALL
            SELECT 'inquiries', 'user_id', string_agg(id::text, ', ') FROM inquiries WHERE user_id IS NULL
            UNION ALL
            SELECT 'inquiries', 'seller_id', string_agg(id::text, ', ') FROM inquiries WHERE seller_id IS NULL
            UNION ALL
            SELECT 'reviews', 'car_id', string_agg(id::text, ', ') FROM reviews WHERE car_id IS NULL
            UNION ALL
            SELECT 'reviews', 'user_id', string_agg(id::text, ', ') FROM reviews WHERE user_id IS NULL
            UNION ALL
            SELECT 'reviews', 'rating', string_agg(id::text, ', ') FROM reviews WHERE rating IS NULL
            UNION ALL
            SELECT 'car_images', 'car_id', string_agg(id::text, ', ') FROM car_images WHERE car_id IS NULL
            UNION ALL
            SELECT 'admin_actions', 'admin_id', string_agg(id::text, ', ') FROM admin_actions WHERE admin_id IS NULL
           ) AS gaps
     WHERE ids IS NOT NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'cannot complete the schema: these rows lack a value that must not be guessed: %', missing
            USING HINT = 'Set the values (or delete the rows), then run the migration again.';
    END IF;
END
$$;

SELECT pg_temp.fill_missing('users', 'name', $$coalesce(nullif(split_part(t.email, '@', 1), ''), 'User ' || t.id)$$);
SELECT pg_temp.fill_missing('cars', 'title', $$'Untitled listing'$$);
SELECT pg_temp.fill_missing('orders', 'final_price', '(SELECT price FROM cars WHERE cars.id = t.car_id)');
SELECT pg_temp.fill_missing('inquiries', 'message', $$''$$);
SELECT pg_temp.fill_missing(
    'reviews', 'user_name', $$(SELECT coalesce(name, '') FROM users WHERE users.id = t.user_id)$$
);
SELECT pg_temp.fill_missing('admin_actions', 'action_type', $$'unknown'$$);
SELECT pg_temp.fill_missing(stamps.table_name, stamps.column_name, $$now() AT TIME ZONE 'utc'$$)
FROM (
    VALUES
    ('users', 'created_at'), ('users', 'updated_at'), ('cars', 'created_at'), ('cars', 'updated_at'),
    ('orders', 'created_at'), ('orders', 'updated_at'), ('inquiries', 'created_at'),
    ('inquiries', 'updated_at'), ('reviews', 'created_at'), ('favorites', 'created_at'),
    ('car_images', 'created_at'), ('car_images', 'updated_at'), ('admin_actions', 'created_at')
) AS stamps (table_name, column_name);

-- The rules, checked for new rows at once and for existing rows by 0019.
ALTER TABLE users ADD CONSTRAINT users_required_columns_check CHECK (
    name IS NOT NULL AND email IS NOT NULL AND password_hash IS NOT NULL
    AND created_at IS NOT NULL AND updated_at IS NOT NULL
) NOT VALID;
ALTER TABLE cars ADD CONSTRAINT cars_required_columns_check CHECK (
    title IS NOT NULL AND seller_id IS NOT NULL AND created_at IS NOT NULL AND updated_at IS NOT NULL
) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_required_columns_check CHECK (
    car_id IS NOT NULL AND buyer_id IS NOT NULL AND seller_id IS NOT NULL AND final_price IS NOT NULL
    AND created_at IS NOT NULL AND updated_at IS NOT NULL
) NOT VALID;
ALTER TABLE inquiries ADD CONSTRAINT inquiries_required_columns_check CHECK (
    car_id IS NOT NULL AND user_id IS NOT NULL AND seller_id IS NOT NULL AND message IS NOT NULL
    AND created_at IS NOT NULL AND updated_at IS NOT NULL
) NOT VALID;
ALTER TABLE reviews ADD CONSTRAINT reviews_required_columns_check CHECK (
    car_id IS NOT NULL AND user_id IS NOT NULL AND user_name IS NOT NULL AND rating IS NOT NULL
    AND created_at IS NOT NULL
) NOT VALID;
ALTER TABLE favorites ADD CONSTRAINT favorites_required_columns_check CHECK (
    created_at IS NOT NULL
) NOT VALID;
ALTER TABLE car_images ADD CONSTRAINT car_images_required_columns_check CHECK (
    car_id IS NOT NULL AND created_at IS NOT NULL AND updated_at IS NOT NULL
) NOT VALID;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_required_columns_check CHECK (
    admin_id IS NOT NULL AND action_type IS NOT NULL AND created_at IS NOT NULL
) NOT VALID;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-constraint

ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_required_columns_check;
ALTER TABLE car_images DROP CONSTRAINT car_images_required_columns_check;
ALTER TABLE favorites DROP CONSTRAINT favorites_required_columns_check;
ALTER TABLE reviews DROP CONSTRAINT reviews_required_columns_check;
ALTER TABLE inquiries DROP CONSTRAINT inquiries_required_columns_check;
ALTER TABLE orders DROP CONSTRAINT orders_required_columns_check;
ALTER TABLE cars DROP CONSTRAINT cars_required_columns_check;
ALTER TABLE users DROP CONSTRAINT users_required_columns_check;

-- Put the NULLs back, then drop their record.
DO $$
DECLARE
    repair record;
BEGIN
    FOR repair IN
        SELECT * FROM legacy_row_repairs WHERE reason = 'missing value filled in before NOT NULL' ORDER BY id DESC
    LOOP
        EXECUTE format('UPDATE %I SET %I = NULL WHERE id = $1', repair.table_name, repair.column_name)
        USING repair.row_id;
    END LOOP;
END
$$;
DELETE FROM legacy_row_repairs WHERE reason = 'missing value filled in before NOT NULL';
