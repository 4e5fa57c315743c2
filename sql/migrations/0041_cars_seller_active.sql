-- Why: every public read of cars leaves out the listings of deactivated sellers.
-- Asked of users at read time (NOT IN the deactivated accounts in each list
-- statement, NOT EXISTS in a car's detail), it cost ~50 µs of PostgreSQL's time per
-- list statement at a million cars, a fifth of a filtered page's query, even with no
-- deactivated account (docs/decisions.md). The answer is now
-- kept on the car, by the database: cars.seller_active follows its seller's
-- users.is_active through two triggers, whoever writes (the service, psql), and the
-- reads test the column. Its writes take the seller's row lock, so a deactivation and
-- a new listing of the same seller never miss each other (in READ COMMITTED, where the
-- service writes; under REPEATABLE READ both also write data_version, so one of the two
-- fails to serialize instead). A car's updated_at stays as
-- it was when only its seller's state changed (the listing itself did not).

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- A constant default: no table rewrite (PostgreSQL 11+); only the deactivated sellers'
-- cars are written, at the end.
ALTER TABLE cars ADD COLUMN seller_active boolean NOT NULL DEFAULT TRUE;

-- The reads take it from car_rows, the view every query of a car reads (0021); a new
-- column goes last (CREATE OR REPLACE VIEW keeps the others as they are).
CREATE OR REPLACE VIEW car_rows AS
SELECT
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at,
    seller_active
FROM cars;

COMMENT ON COLUMN cars.seller_active IS
'Kept by triggers: FALSE while the seller''s account is deactivated (public reads leave the car out).';

CREATE FUNCTION cars_take_seller_active() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- FOR SHARE: a deactivation of this seller (an UPDATE of the row) waits for this
    -- write to commit, or this write for it, and then reads the new value. No such
    -- user: TRUE here, and the foreign key refuses the row.
    NEW.seller_active := coalesce(
        (SELECT u.is_active FROM users AS u WHERE u.id = NEW.seller_id FOR SHARE),
        TRUE
    );
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION cars_take_seller_active() IS
'Trigger function: sets cars.seller_active from the seller''s users.is_active.';

-- Also on an UPDATE of seller_active itself: a value written by hand is put right.
CREATE TRIGGER cars_take_seller_active
BEFORE INSERT OR UPDATE OF seller_id, seller_active ON cars
FOR EACH ROW EXECUTE FUNCTION cars_take_seller_active();

CREATE FUNCTION users_pass_active_to_cars() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cars SET seller_active = NEW.is_active
    WHERE seller_id = NEW.id AND seller_active IS DISTINCT FROM NEW.is_active;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION users_pass_active_to_cars() IS
'Trigger function: a seller''s (de)activation sets cars.seller_active on each of their cars.';

CREATE TRIGGER users_pass_active_to_cars
AFTER UPDATE OF is_active ON users
FOR EACH ROW WHEN (old.is_active IS DISTINCT FROM new.is_active)
EXECUTE FUNCTION users_pass_active_to_cars();

-- updated_at says when the listing changed: not when only its seller's state did. This
-- trigger fires before cars_take_seller_active (triggers fire in name order), so it sees
-- seller_active as the statement wrote it. (A statement typed by hand that writes
-- seller_active and another column at once is not stamped either.)
DROP TRIGGER cars_set_updated_at ON cars;
CREATE TRIGGER cars_set_updated_at BEFORE UPDATE ON cars
FOR EACH ROW WHEN (old.seller_active IS NOT DISTINCT FROM new.seller_active)
EXECUTE FUNCTION set_updated_at();

-- The cars of sellers deactivated so far, after the triggers: creating the one on users
-- waited for every write to users in flight and holds further ones until this commits, so
-- no deactivation falls between this statement and the trigger.
UPDATE cars AS c
SET seller_active = FALSE
FROM users AS u
WHERE u.id = c.seller_id AND NOT u.is_active;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-column, ban-drop-function, ban-drop-view

DROP TRIGGER cars_set_updated_at ON cars;
CREATE TRIGGER cars_set_updated_at BEFORE UPDATE ON cars
FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER users_pass_active_to_cars ON users;
DROP FUNCTION users_pass_active_to_cars();
DROP TRIGGER cars_take_seller_active ON cars;
DROP FUNCTION cars_take_seller_active();
-- A view cannot lose a column in place: both views are made again as 0021 and 0031 left them.
DROP VIEW car_list_rows;
DROP VIEW car_rows;
CREATE VIEW car_rows AS
SELECT
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at
FROM cars;
COMMENT ON VIEW car_rows IS
'A car as the service reads it: every query of a car selects from (or writes through) this view.';
CREATE VIEW car_list_rows AS
SELECT
    c.id,
    c.title,
    c.price,
    c.description,
    c.seller_id,
    c.status,
    c.brand,
    c.model,
    c.year,
    c.fuel_type,
    c.image,
    c.rejection_reason,
    c.created_at,
    c.updated_at,
    i.id AS primary_image_id,
    i.car_id AS primary_image_car_id,
    i.image_url AS primary_image_image_url,
    i.is_primary AS primary_image_is_primary,
    i.display_order AS primary_image_display_order,
    i.created_at AS primary_image_created_at,
    i.updated_at AS primary_image_updated_at,
    i.has_file AS primary_image_has_file
FROM car_rows AS c
LEFT JOIN LATERAL (
    SELECT image.*
    FROM car_image_rows AS image
    WHERE image.id = coalesce(
        (SELECT p.id FROM car_images AS p WHERE p.car_id = c.id AND p.is_primary),
        (SELECT f.id FROM car_images AS f WHERE f.car_id = c.id ORDER BY f.display_order ASC, f.id ASC LIMIT 1)
    )
) AS i ON TRUE;

COMMENT ON VIEW car_list_rows IS
'A car as the lists show it: the columns of car_rows and its primary image as primary_image_* (NULL without images).';
ALTER TABLE cars DROP COLUMN seller_active;
