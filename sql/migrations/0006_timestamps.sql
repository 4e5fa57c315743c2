-- Why: the old server set updated_at by hand (and often forgot). The database
-- now maintains it with a trigger, and every timestamp default is taken in
-- UTC whatever the session time zone, since the API prints them as UTC.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now() AT TIME ZONE 'utc';
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION set_updated_at() IS 'Trigger function: stamps updated_at (UTC) on every UPDATE.';

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER cars_set_updated_at BEFORE UPDATE ON cars
FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER orders_set_updated_at BEFORE UPDATE ON orders
FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER inquiries_set_updated_at BEFORE UPDATE ON inquiries
FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER car_images_set_updated_at BEFORE UPDATE ON car_images
FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE users
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc'),
ALTER COLUMN updated_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE cars
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc'),
ALTER COLUMN updated_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE orders
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc'),
ALTER COLUMN updated_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE inquiries
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc'),
ALTER COLUMN updated_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE car_images
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc'),
ALTER COLUMN updated_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE reviews
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE favorites
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc');
ALTER TABLE admin_actions
ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc');

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-function

ALTER TABLE admin_actions ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE favorites ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE reviews ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE car_images
ALTER COLUMN created_at SET DEFAULT now(),
ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE inquiries
ALTER COLUMN created_at SET DEFAULT now(),
ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE orders
ALTER COLUMN created_at SET DEFAULT now(),
ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE cars
ALTER COLUMN created_at SET DEFAULT now(),
ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE users
ALTER COLUMN created_at SET DEFAULT now(),
ALTER COLUMN updated_at SET DEFAULT now();

DROP TRIGGER car_images_set_updated_at ON car_images;
DROP TRIGGER inquiries_set_updated_at ON inquiries;
DROP TRIGGER orders_set_updated_at ON orders;
DROP TRIGGER cars_set_updated_at ON cars;
DROP TRIGGER users_set_updated_at ON users;
DROP FUNCTION set_updated_at();
