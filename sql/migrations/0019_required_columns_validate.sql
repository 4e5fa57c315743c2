-- Why: second step of 0018-0020. Validating the NOT VALID checks of 0018
-- reads each table once under a SHARE UPDATE EXCLUSIVE lock, which blocks
-- neither reads nor writes, so that 0020 can set NOT NULL without a scan.

-- migrate:up

SET LOCAL lock_timeout = '5s';

ALTER TABLE users VALIDATE CONSTRAINT users_required_columns_check;
ALTER TABLE cars VALIDATE CONSTRAINT cars_required_columns_check;
ALTER TABLE orders VALIDATE CONSTRAINT orders_required_columns_check;
ALTER TABLE inquiries VALIDATE CONSTRAINT inquiries_required_columns_check;
ALTER TABLE reviews VALIDATE CONSTRAINT reviews_required_columns_check;
ALTER TABLE favorites VALIDATE CONSTRAINT favorites_required_columns_check;
ALTER TABLE car_images VALIDATE CONSTRAINT car_images_required_columns_check;
ALTER TABLE admin_actions VALIDATE CONSTRAINT admin_actions_required_columns_check;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- Nothing to undo: a validated check stays correct, and 0018's down drops the checks.
