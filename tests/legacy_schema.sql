-- The schema the old Node server left in every `cms` database, written from
-- the contract's "Database facts": same tables, columns and types, nullable
-- columns, no CHECK constraints, no indexes besides the primary keys and the
-- two unique constraints, foreign keys without delete rules (except images),
-- and the old constraint names. Used by tests/test_adoption.py to build an
-- old database that our migrations must adopt in place.

CREATE TABLE users (
    id serial CONSTRAINT users_pkey PRIMARY KEY,
    name varchar(255),
    email varchar(255) CONSTRAINT users_email_unique UNIQUE,
    password_hash varchar(255),
    role varchar(20) DEFAULT 'user',
    is_active boolean DEFAULT true,
    last_login timestamp,
    phone varchar(50),
    address text,
    avatar text,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE cars (
    id serial CONSTRAINT cars_pkey PRIMARY KEY,
    title varchar(255),
    price numeric(10, 2),
    description text,
    seller_id integer CONSTRAINT cars_seller_id_users_id_fk REFERENCES users (id),
    status varchar(20) DEFAULT 'pending',
    brand varchar(100),
    model varchar(100),
    year integer,
    fuel_type varchar(50),
    image text,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE orders (
    id serial CONSTRAINT orders_pkey PRIMARY KEY,
    car_id integer CONSTRAINT orders_car_id_cars_id_fk REFERENCES cars (id),
    buyer_id integer CONSTRAINT orders_buyer_id_users_id_fk REFERENCES users (id),
    seller_id integer CONSTRAINT orders_seller_id_users_id_fk REFERENCES users (id),
    final_price numeric(10, 2),
    status varchar(20) DEFAULT 'draft',
    documents jsonb,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE inquiries (
    id serial CONSTRAINT inquiries_pkey PRIMARY KEY,
    car_id integer CONSTRAINT inquiries_car_id_cars_id_fk REFERENCES cars (id),
    user_id integer CONSTRAINT inquiries_user_id_users_id_fk REFERENCES users (id),
    seller_id integer CONSTRAINT inquiries_seller_id_users_id_fk REFERENCES users (id),
    message text,
    status varchar(20) DEFAULT 'open',
    type varchar(20) DEFAULT 'general',
    requested_date date,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE reviews (
    id serial CONSTRAINT reviews_pkey PRIMARY KEY,
    car_id integer CONSTRAINT reviews_car_id_cars_id_fk REFERENCES cars (id),
    user_id integer CONSTRAINT reviews_user_id_users_id_fk REFERENCES users (id),
    user_name varchar(255),
    rating integer,
    comment text,
    created_at timestamp DEFAULT now()
);

CREATE TABLE favorites (
    id serial CONSTRAINT favorites_pkey PRIMARY KEY,
    user_id integer CONSTRAINT favorites_user_id_users_id_fk REFERENCES users (id),
    car_id integer CONSTRAINT favorites_car_id_cars_id_fk REFERENCES cars (id),
    created_at timestamp DEFAULT now(),
    CONSTRAINT unique_user_car UNIQUE (user_id, car_id)
);

CREATE TABLE car_images (
    id serial CONSTRAINT car_images_pkey PRIMARY KEY,
    car_id integer CONSTRAINT car_images_car_id_cars_id_fk REFERENCES cars (id) ON DELETE CASCADE,
    image_url text,
    is_primary boolean DEFAULT false,
    display_order integer DEFAULT 0,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now()
);

CREATE TABLE admin_actions (
    id serial CONSTRAINT admin_actions_pkey PRIMARY KEY,
    admin_id integer CONSTRAINT admin_actions_admin_id_users_id_fk REFERENCES users (id),
    action_type varchar(50),
    target_id integer,
    details jsonb,
    created_at timestamp DEFAULT now()
);
