-- Why: the old schema accepted any status, role, type, rating or price. The
-- database now refuses values outside their lists (the previous migration
-- repaired old rows first), makes emails unique regardless of letter case,
-- and states the one-per-something rules as unique indexes.

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- Switch-over: 0001-0009 ship with the first release and run once, while the old
-- server is stopped and nothing else reads or writes. Each file is one transaction,
-- so CONCURRENTLY is impossible here and NOT VALID + VALIDATE would hold the same locks.
-- squawk-ignore-file adding-not-nullable-field, constraint-missing-not-valid
-- squawk-ignore-file require-concurrent-index-creation

ALTER TABLE users
ALTER COLUMN role SET NOT NULL,
ALTER COLUMN is_active SET NOT NULL,
ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'seller', 'admin'));

ALTER TABLE cars
ALTER COLUMN status SET NOT NULL,
ALTER COLUMN price SET NOT NULL,
ADD CONSTRAINT cars_status_check
CHECK (status IN ('pending', 'available', 'reserved', 'sold', 'rejected')),
ADD CONSTRAINT cars_price_check CHECK (price >= 0);

ALTER TABLE orders
ALTER COLUMN status SET NOT NULL,
ADD CONSTRAINT orders_status_check
CHECK (status IN ('draft', 'pending', 'pending_payment', 'paid', 'completed', 'cancelled')),
ADD CONSTRAINT orders_final_price_check CHECK (final_price >= 0),
ADD CONSTRAINT orders_documents_check CHECK (jsonb_typeof(documents) = 'array');

ALTER TABLE inquiries
ALTER COLUMN status SET NOT NULL,
ALTER COLUMN type SET NOT NULL,
ADD CONSTRAINT inquiries_status_check CHECK (status IN ('open', 'responded', 'closed')),
ADD CONSTRAINT inquiries_type_check CHECK (type IN ('general', 'test_drive'));

ALTER TABLE favorites
ALTER COLUMN user_id SET NOT NULL,
ALTER COLUMN car_id SET NOT NULL;

ALTER TABLE reviews
ADD CONSTRAINT reviews_rating_check CHECK (rating BETWEEN 1 AND 5);

ALTER TABLE car_images
ALTER COLUMN is_primary SET NOT NULL,
ALTER COLUMN display_order SET NOT NULL,
ADD CONSTRAINT car_images_display_order_check CHECK (display_order >= 0);

-- Login and registration compare emails case-insensitively and trimmed.
CREATE UNIQUE INDEX users_email_lower_unique ON users (lower(btrim(email)));

-- At most one primary image per car.
CREATE UNIQUE INDEX car_images_one_primary_per_car
ON car_images (car_id) WHERE is_primary;

-- One review per user and car (a second review updates the first).
CREATE UNIQUE INDEX reviews_one_per_user_and_car ON reviews (car_id, user_id);

-- A car is sold at most once.
CREATE UNIQUE INDEX orders_one_sale_per_car
ON orders (car_id) WHERE status IN ('paid', 'completed');

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-constraint, ban-drop-not-null, require-concurrent-index-deletion

DROP INDEX orders_one_sale_per_car;
DROP INDEX reviews_one_per_user_and_car;
DROP INDEX car_images_one_primary_per_car;
DROP INDEX users_email_lower_unique;

ALTER TABLE car_images
DROP CONSTRAINT car_images_display_order_check,
ALTER COLUMN display_order DROP NOT NULL,
ALTER COLUMN is_primary DROP NOT NULL;

ALTER TABLE favorites
ALTER COLUMN car_id DROP NOT NULL,
ALTER COLUMN user_id DROP NOT NULL;

ALTER TABLE reviews
DROP CONSTRAINT reviews_rating_check;

ALTER TABLE inquiries
DROP CONSTRAINT inquiries_type_check,
DROP CONSTRAINT inquiries_status_check,
ALTER COLUMN type DROP NOT NULL,
ALTER COLUMN status DROP NOT NULL;

ALTER TABLE orders
DROP CONSTRAINT orders_documents_check,
DROP CONSTRAINT orders_final_price_check,
DROP CONSTRAINT orders_status_check,
ALTER COLUMN status DROP NOT NULL;

ALTER TABLE cars
DROP CONSTRAINT cars_price_check,
DROP CONSTRAINT cars_status_check,
ALTER COLUMN price DROP NOT NULL,
ALTER COLUMN status DROP NOT NULL;

ALTER TABLE users
DROP CONSTRAINT users_role_check,
ALTER COLUMN is_active DROP NOT NULL,
ALTER COLUMN role DROP NOT NULL;
