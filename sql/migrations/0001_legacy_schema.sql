-- Why: recreate exactly the schema the old Node server left in every `cms`
-- database (same tables, columns, types and constraint names), guarded with
-- IF NOT EXISTS so that `dbmate up` adopts an old database in place and keeps
-- every row, and creates the same schema on an empty database. Columns are
-- nullable as they were there (old rows may hold NULLs), so that a new and an
-- adopted database end up with the very same schema.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS users (
    id serial CONSTRAINT users_pkey PRIMARY KEY,
    name varchar(255),
    email varchar(255) CONSTRAINT users_email_unique UNIQUE,
    password_hash varchar(255),
    role varchar(20) DEFAULT 'user',
    is_active boolean DEFAULT TRUE,
    last_login timestamp,
    phone varchar(50),
    address text,
    avatar text,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cars (
    id serial CONSTRAINT cars_pkey PRIMARY KEY,
    title varchar(255),
    price numeric(10, 2),
    description text,
    seller_id integer
    CONSTRAINT cars_seller_id_users_id_fk REFERENCES users (id),
    status varchar(20) DEFAULT 'pending',
    brand varchar(100),
    model varchar(100),
    year integer,
    fuel_type varchar(50),
    image text,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
    id serial CONSTRAINT orders_pkey PRIMARY KEY,
    car_id integer
    CONSTRAINT orders_car_id_cars_id_fk REFERENCES cars (id),
    buyer_id integer
    CONSTRAINT orders_buyer_id_users_id_fk REFERENCES users (id),
    seller_id integer
    CONSTRAINT orders_seller_id_users_id_fk REFERENCES users (id),
    final_price numeric(10, 2),
    status varchar(20) DEFAULT 'draft',
    documents jsonb,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS inquiries (
    id serial CONSTRAINT inquiries_pkey PRIMARY KEY,
    car_id integer
    CONSTRAINT inquiries_car_id_cars_id_fk REFERENCES cars (id),
    user_id integer
    CONSTRAINT inquiries_user_id_users_id_fk REFERENCES users (id),
    seller_id integer
    CONSTRAINT inquiries_seller_id_users_id_fk REFERENCES users (id),
    message text,
    status varchar(20) DEFAULT 'open',
    type varchar(20) DEFAULT 'general',
    requested_date date,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS reviews (
    id serial CONSTRAINT reviews_pkey PRIMARY KEY,
    car_id integer
    CONSTRAINT reviews_car_id_cars_id_fk REFERENCES cars (id),
    user_id integer
    CONSTRAINT reviews_user_id_users_id_fk REFERENCES users (id),
    user_name varchar(255),
    rating integer,
    comment text,
    created_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS favorites (
    id serial CONSTRAINT favorites_pkey PRIMARY KEY,
    user_id integer
    CONSTRAINT favorites_user_id_users_id_fk REFERENCES users (id),
    car_id integer
    CONSTRAINT favorites_car_id_cars_id_fk REFERENCES cars (id),
    created_at timestamp DEFAULT now(),
    CONSTRAINT unique_user_car UNIQUE (user_id, car_id)
);

CREATE TABLE IF NOT EXISTS car_images (
    id serial CONSTRAINT car_images_pkey PRIMARY KEY,
    car_id integer
    CONSTRAINT car_images_car_id_cars_id_fk
    REFERENCES cars (id) ON DELETE CASCADE,
    image_url text,
    is_primary boolean DEFAULT FALSE,
    display_order integer DEFAULT 0,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS admin_actions (
    id serial CONSTRAINT admin_actions_pkey PRIMARY KEY,
    admin_id integer
    CONSTRAINT admin_actions_admin_id_users_id_fk REFERENCES users (id),
    action_type varchar(50),
    target_id integer,
    details jsonb,
    created_at timestamp DEFAULT now()
);

-- What every table and column means (shown by \d+ and in docs/schema.md).
-- COMMENT ON replaces any earlier comment, so this is safe on an adopted database.

COMMENT ON TABLE users IS 'Accounts: buyers (role user), sellers and admins.';
COMMENT ON COLUMN users.id IS 'Surrogate key; the id carried by API tokens.';
COMMENT ON COLUMN users.name IS 'Display name.';
COMMENT ON COLUMN users.email IS
'Login name; unique regardless of letter case and surrounding blanks (users_email_lower_unique).';
COMMENT ON COLUMN users.password_hash IS
'bcrypt hash ($2a$ from the old server, $2b$ from this one); never returned by the API.';
COMMENT ON COLUMN users.role IS 'user (buyer), seller or admin.';
COMMENT ON COLUMN users.is_active IS
'False once an admin deactivated the account: its logins and existing tokens are refused.';
COMMENT ON COLUMN users.last_login IS 'Last successful login (UTC); NULL if never.';
COMMENT ON COLUMN users.phone IS 'Contact phone number, free text.';
COMMENT ON COLUMN users.address IS 'Postal address, free text.';
COMMENT ON COLUMN users.avatar IS 'Avatar image URL.';
COMMENT ON COLUMN users.created_at IS 'When the account was created (UTC).';
COMMENT ON COLUMN users.updated_at IS 'Last change (UTC); maintained by trigger users_set_updated_at.';

COMMENT ON TABLE cars IS 'Car listings: one vehicle offered for sale by a seller.';
COMMENT ON COLUMN cars.id IS 'Surrogate key.';
COMMENT ON COLUMN cars.title IS 'Listing title.';
COMMENT ON COLUMN cars.price IS 'Asking price in currency units, two decimals; never negative.';
COMMENT ON COLUMN cars.description IS 'Free-text description.';
COMMENT ON COLUMN cars.seller_id IS 'The seller who owns the listing.';
COMMENT ON COLUMN cars.status IS
'pending (awaiting admin approval), available, reserved, sold or rejected.';
COMMENT ON COLUMN cars.brand IS 'Manufacturer, e.g. Aura; searched case-insensitively.';
COMMENT ON COLUMN cars.model IS 'Model name.';
COMMENT ON COLUMN cars.year IS 'Model year.';
COMMENT ON COLUMN cars.fuel_type IS 'Fuel, e.g. Electric or Gasoline (free text).';
COMMENT ON COLUMN cars.image IS
'Cover image URL given with the listing (the gallery is in car_images).';
COMMENT ON COLUMN cars.created_at IS 'When the listing was created (UTC); default sort key of lists.';
COMMENT ON COLUMN cars.updated_at IS 'Last change (UTC); maintained by trigger cars_set_updated_at.';

COMMENT ON TABLE orders IS
'Sales of a car to a buyer, from a seller''s draft or a buyer''s checkout to completion.';
COMMENT ON COLUMN orders.id IS 'Surrogate key.';
COMMENT ON COLUMN orders.car_id IS 'The car sold; a car with orders cannot be deleted.';
COMMENT ON COLUMN orders.buyer_id IS 'The buying user.';
COMMENT ON COLUMN orders.seller_id IS 'The selling user (the car''s seller when the order was made).';
COMMENT ON COLUMN orders.final_price IS 'Agreed price (at checkout, the car''s price); never negative.';
COMMENT ON COLUMN orders.status IS
'draft, pending, pending_payment, paid, completed or cancelled; at most one paid or completed order per car.';
COMMENT ON COLUMN orders.documents IS 'JSON array of {name, url, uploadedAt} attached by the seller.';
COMMENT ON COLUMN orders.created_at IS 'When the order was created (UTC).';
COMMENT ON COLUMN orders.updated_at IS 'Last change (UTC); maintained by trigger orders_set_updated_at.';

COMMENT ON TABLE inquiries IS 'Questions and test-drive requests sent by a user to the seller of a car.';
COMMENT ON COLUMN inquiries.id IS 'Surrogate key.';
COMMENT ON COLUMN inquiries.car_id IS 'The car asked about.';
COMMENT ON COLUMN inquiries.user_id IS 'The user who asked.';
COMMENT ON COLUMN inquiries.seller_id IS 'The seller addressed (the car''s seller when the inquiry was sent).';
COMMENT ON COLUMN inquiries.message IS 'The question, as typed.';
COMMENT ON COLUMN inquiries.status IS 'open, responded or closed.';
COMMENT ON COLUMN inquiries.type IS 'general or test_drive.';
COMMENT ON COLUMN inquiries.requested_date IS 'Date wanted for a test drive; NULL for a general inquiry.';
COMMENT ON COLUMN inquiries.created_at IS 'When the inquiry was sent (UTC).';
COMMENT ON COLUMN inquiries.updated_at IS 'Last change (UTC); maintained by trigger inquiries_set_updated_at.';

COMMENT ON TABLE reviews IS 'Ratings of a car by users: at most one per user and car.';
COMMENT ON COLUMN reviews.id IS 'Surrogate key.';
COMMENT ON COLUMN reviews.car_id IS 'The car reviewed.';
COMMENT ON COLUMN reviews.user_id IS 'The reviewer.';
COMMENT ON COLUMN reviews.user_name IS 'The reviewer''s name when the review was written (shown without a join).';
COMMENT ON COLUMN reviews.rating IS 'Stars, 1 to 5.';
COMMENT ON COLUMN reviews.comment IS 'Review text.';
COMMENT ON COLUMN reviews.created_at IS 'When the review was written (UTC).';

COMMENT ON TABLE favorites IS 'Cars a user marked as favorite: one row per user and car.';
COMMENT ON COLUMN favorites.id IS 'Surrogate key.';
COMMENT ON COLUMN favorites.user_id IS 'The user.';
COMMENT ON COLUMN favorites.car_id IS 'The favorite car.';
COMMENT ON COLUMN favorites.created_at IS 'When the car was marked (UTC).';

COMMENT ON TABLE car_images IS
'Gallery images of a car in display order; at most one primary image per car.';
COMMENT ON COLUMN car_images.id IS 'Surrogate key.';
COMMENT ON COLUMN car_images.car_id IS 'The car shown; images are deleted with their car.';
COMMENT ON COLUMN car_images.image_url IS
'Link to the image, e.g. /images/car1.png; NULL when the bytes are stored in car_image_files.';
COMMENT ON COLUMN car_images.is_primary IS 'True for the image shown in car lists.';
COMMENT ON COLUMN car_images.display_order IS 'Position in the gallery, 0 first.';
COMMENT ON COLUMN car_images.created_at IS 'When the image was added (UTC).';
COMMENT ON COLUMN car_images.updated_at IS 'Last change (UTC); maintained by trigger car_images_set_updated_at.';

COMMENT ON TABLE admin_actions IS
'Audit log of admin writes (accounts created or changed, listings approved or rejected, settings).';
COMMENT ON COLUMN admin_actions.id IS 'Surrogate key.';
COMMENT ON COLUMN admin_actions.admin_id IS 'The admin who acted.';
COMMENT ON COLUMN admin_actions.action_type IS 'What was done, e.g. create_seller, update_user.';
COMMENT ON COLUMN admin_actions.target_id IS 'Id of the row acted on (a user or a car, by action type); NULL if none.';
COMMENT ON COLUMN admin_actions.details IS 'JSON object with the facts of the change; never a password.';
COMMENT ON COLUMN admin_actions.created_at IS 'When it happened (UTC).';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- Rolling back the first migration removes the whole schema: development databases only.
-- It refuses while any row is left, so an adopted database never loses its data this way.
-- squawk-ignore-file ban-drop-table

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM cars) OR EXISTS (SELECT 1 FROM orders) THEN
        RAISE EXCEPTION 'refusing to drop the legacy tables: they still hold data'
        USING HINT = 'Back up and empty them first if you really mean to remove the whole schema.';
    END IF;
END
$$;

DROP TABLE IF EXISTS admin_actions;
DROP TABLE IF EXISTS car_images;
DROP TABLE IF EXISTS favorites;
DROP TABLE IF EXISTS reviews;
DROP TABLE IF EXISTS inquiries;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS cars;
DROP TABLE IF EXISTS users;
