-- Why: the old database had no index besides primary keys and two unique
-- constraints, so every foreign-key lookup and every filtered list read whole
-- tables. One index per foreign key (unless a unique index already starts
-- with that column) and per column the API filters or sorts by.

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- Switch-over: 0001-0009 ship with the first release and run once, while the old
-- server is stopped and nothing else reads or writes. Each file is one transaction,
-- so CONCURRENTLY is impossible here and NOT VALID + VALIDATE would hold the same locks.
-- squawk-ignore-file require-concurrent-index-creation

CREATE INDEX cars_seller_id_idx ON cars (seller_id);
CREATE INDEX cars_status_idx ON cars (status);
CREATE INDEX cars_brand_idx ON cars (lower(brand));
CREATE INDEX cars_price_idx ON cars (price);
CREATE INDEX cars_year_idx ON cars (year);
CREATE INDEX cars_created_at_idx ON cars (created_at DESC, id DESC);

CREATE INDEX orders_car_id_idx ON orders (car_id);
CREATE INDEX orders_buyer_id_idx ON orders (buyer_id);
CREATE INDEX orders_seller_id_idx ON orders (seller_id);
CREATE INDEX orders_status_idx ON orders (status);

CREATE INDEX inquiries_car_id_idx ON inquiries (car_id);
CREATE INDEX inquiries_user_id_idx ON inquiries (user_id);
CREATE INDEX inquiries_seller_id_idx ON inquiries (seller_id);

-- reviews (car_id, user_id) is covered by reviews_one_per_user_and_car.
CREATE INDEX reviews_user_id_idx ON reviews (user_id);

-- favorites (user_id, car_id) is covered by unique_user_car.
CREATE INDEX favorites_car_id_idx ON favorites (car_id);

CREATE INDEX car_images_car_id_idx ON car_images (car_id, display_order, id);

CREATE INDEX admin_actions_admin_id_idx ON admin_actions (admin_id);
CREATE INDEX admin_actions_created_at_idx ON admin_actions (created_at DESC, id DESC);
CREATE INDEX admin_actions_action_type_idx ON admin_actions (action_type, created_at DESC);

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file require-concurrent-index-deletion

DROP INDEX admin_actions_action_type_idx;
DROP INDEX admin_actions_created_at_idx;
DROP INDEX admin_actions_admin_id_idx;
DROP INDEX car_images_car_id_idx;
DROP INDEX favorites_car_id_idx;
DROP INDEX reviews_user_id_idx;
DROP INDEX inquiries_seller_id_idx;
DROP INDEX inquiries_user_id_idx;
DROP INDEX inquiries_car_id_idx;
DROP INDEX orders_status_idx;
DROP INDEX orders_seller_id_idx;
DROP INDEX orders_buyer_id_idx;
DROP INDEX orders_car_id_idx;
DROP INDEX cars_created_at_idx;
DROP INDEX cars_year_idx;
DROP INDEX cars_price_idx;
DROP INDEX cars_brand_idx;
DROP INDEX cars_status_idx;
DROP INDEX cars_seller_id_idx;
