-- Why: last step of 0018-0020. The validated checks of 0019 prove that no
-- NULL is left, so SET NOT NULL needs no table scan (only a brief lock); the
-- checks are then dropped, leaving the NOT NULL columns of the old
-- deployments on every database.

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- The validated *_required_columns_check of 0019 makes PostgreSQL skip the scan here.
-- squawk-ignore-file adding-not-nullable-field, ban-drop-constraint

ALTER TABLE users
ALTER COLUMN name SET NOT NULL,
ALTER COLUMN email SET NOT NULL,
ALTER COLUMN password_hash SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
ALTER COLUMN updated_at SET NOT NULL,
DROP CONSTRAINT users_required_columns_check;

ALTER TABLE cars
ALTER COLUMN title SET NOT NULL,
ALTER COLUMN seller_id SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
ALTER COLUMN updated_at SET NOT NULL,
DROP CONSTRAINT cars_required_columns_check;

ALTER TABLE orders
ALTER COLUMN car_id SET NOT NULL,
ALTER COLUMN buyer_id SET NOT NULL,
ALTER COLUMN seller_id SET NOT NULL,
ALTER COLUMN final_price SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
ALTER COLUMN updated_at SET NOT NULL,
DROP CONSTRAINT orders_required_columns_check;

ALTER TABLE inquiries
ALTER COLUMN car_id SET NOT NULL,
ALTER COLUMN user_id SET NOT NULL,
ALTER COLUMN seller_id SET NOT NULL,
ALTER COLUMN message SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
ALTER COLUMN updated_at SET NOT NULL,
DROP CONSTRAINT inquiries_required_columns_check;

ALTER TABLE reviews
ALTER COLUMN car_id SET NOT NULL,
ALTER COLUMN user_id SET NOT NULL,
ALTER COLUMN user_name SET NOT NULL,
ALTER COLUMN rating SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
DROP CONSTRAINT reviews_required_columns_check;

ALTER TABLE favorites
ALTER COLUMN created_at SET NOT NULL,
DROP CONSTRAINT favorites_required_columns_check;

ALTER TABLE car_images
ALTER COLUMN car_id SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
ALTER COLUMN updated_at SET NOT NULL,
DROP CONSTRAINT car_images_required_columns_check;

ALTER TABLE admin_actions
ALTER COLUMN admin_id SET NOT NULL,
ALTER COLUMN action_type SET NOT NULL,
ALTER COLUMN created_at SET NOT NULL,
DROP CONSTRAINT admin_actions_required_columns_check;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks): the columns become
-- nullable again, as 0001 creates them, and 0019's validated checks come back.
-- squawk-ignore-file ban-drop-not-null, constraint-missing-not-valid

ALTER TABLE admin_actions
ADD CONSTRAINT admin_actions_required_columns_check CHECK (
    admin_id IS NOT NULL AND action_type IS NOT NULL AND created_at IS NOT NULL
),
ALTER COLUMN admin_id DROP NOT NULL,
ALTER COLUMN action_type DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL;

ALTER TABLE car_images
ADD CONSTRAINT car_images_required_columns_check CHECK (
    car_id IS NOT NULL AND created_at IS NOT NULL AND updated_at IS NOT NULL
),
ALTER COLUMN car_id DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL,
ALTER COLUMN updated_at DROP NOT NULL;

ALTER TABLE favorites
ADD CONSTRAINT favorites_required_columns_check CHECK (created_at IS NOT NULL),
ALTER COLUMN created_at DROP NOT NULL;

ALTER TABLE reviews
ADD CONSTRAINT reviews_required_columns_check CHECK (
    car_id IS NOT NULL AND user_id IS NOT NULL AND user_name IS NOT NULL AND rating IS NOT NULL
    AND created_at IS NOT NULL
),
ALTER COLUMN car_id DROP NOT NULL,
ALTER COLUMN user_id DROP NOT NULL,
ALTER COLUMN user_name DROP NOT NULL,
ALTER COLUMN rating DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL;

ALTER TABLE inquiries
ADD CONSTRAINT inquiries_required_columns_check CHECK (
    car_id IS NOT NULL AND user_id IS NOT NULL AND seller_id IS NOT NULL AND message IS NOT NULL
    AND created_at IS NOT NULL AND updated_at IS NOT NULL
),
ALTER COLUMN car_id DROP NOT NULL,
ALTER COLUMN user_id DROP NOT NULL,
ALTER COLUMN seller_id DROP NOT NULL,
ALTER COLUMN message DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL,
ALTER COLUMN updated_at DROP NOT NULL;

ALTER TABLE orders
ADD CONSTRAINT orders_required_columns_check CHECK (
    car_id IS NOT NULL AND buyer_id IS NOT NULL AND seller_id IS NOT NULL AND final_price IS NOT NULL
    AND created_at IS NOT NULL AND updated_at IS NOT NULL
),
ALTER COLUMN car_id DROP NOT NULL,
ALTER COLUMN buyer_id DROP NOT NULL,
ALTER COLUMN seller_id DROP NOT NULL,
ALTER COLUMN final_price DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL,
ALTER COLUMN updated_at DROP NOT NULL;

ALTER TABLE cars
ADD CONSTRAINT cars_required_columns_check CHECK (
    title IS NOT NULL AND seller_id IS NOT NULL AND created_at IS NOT NULL AND updated_at IS NOT NULL
),
ALTER COLUMN title DROP NOT NULL,
ALTER COLUMN seller_id DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL,
ALTER COLUMN updated_at DROP NOT NULL;

ALTER TABLE users
ADD CONSTRAINT users_required_columns_check CHECK (
    name IS NOT NULL AND email IS NOT NULL AND password_hash IS NOT NULL
    AND created_at IS NOT NULL AND updated_at IS NOT NULL
),
ALTER COLUMN name DROP NOT NULL,
ALTER COLUMN email DROP NOT NULL,
ALTER COLUMN password_hash DROP NOT NULL,
ALTER COLUMN created_at DROP NOT NULL,
ALTER COLUMN updated_at DROP NOT NULL;
