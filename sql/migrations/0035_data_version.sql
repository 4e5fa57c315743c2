-- Why: public reads (the car lists, a car, its images and reviews) carry a
-- validator (ETag) so that clients and caches revalidate instead of downloading
-- again. It must change with any change to what those reads show, whoever makes
-- it: another instance, a replica's primary, an UPDATE typed in psql. So the
-- database keeps it: statement-level triggers on every table those reads show
-- add one to data_version.version in the writing transaction; a reader sees the
-- new number exactly when it sees the change (same commit). One row for every
-- table: a transaction that writes two of them takes one lock, never two in
-- different orders (no deadlock); writers of those tables wait for each other's
-- commit from their first write on (they are short). A rolled-back write leaves
-- the number unchanged, and a statement that changes nothing still counts (a
-- spare revalidation, never a stale one).

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE data_version (
    id boolean PRIMARY KEY DEFAULT TRUE CONSTRAINT data_version_one_row CHECK (id),
    version bigint NOT NULL,
    changed_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

COMMENT ON TABLE data_version IS
'One row: a number that grows with every statement that writes what public reads show (their ETag).';
COMMENT ON COLUMN data_version.id IS 'Always TRUE: the table holds one row.';
COMMENT ON COLUMN data_version.version IS
'Statements so far that wrote cars, car images and files, reviews, settings, or users'' names and activation.';
COMMENT ON COLUMN data_version.changed_at IS 'When version last grew (UTC).';

INSERT INTO data_version (id, version) VALUES (TRUE, 1);

CREATE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1, changed_at = now() AT TIME ZONE 'utc' WHERE id;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION bump_data_version() IS
'Statement trigger: data_version.version + 1 in the writing transaction (the ETag of public reads).';

CREATE TRIGGER cars_bump_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cars
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

CREATE TRIGGER car_images_bump_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON car_images
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

CREATE TRIGGER car_image_files_bump_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON car_image_files
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

CREATE TRIGGER reviews_bump_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON reviews
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

CREATE TRIGGER settings_bump_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

-- Public reads show a user's name (reviews) and hide a deactivated seller's cars; a login
-- (last_login) or a registration changes neither.
CREATE TRIGGER users_bump_data_version
AFTER UPDATE OF name, is_active OR DELETE OR TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table, ban-drop-function

DROP TRIGGER users_bump_data_version ON users;
DROP TRIGGER settings_bump_data_version ON settings;
DROP TRIGGER reviews_bump_data_version ON reviews;
DROP TRIGGER car_image_files_bump_data_version ON car_image_files;
DROP TRIGGER car_images_bump_data_version ON car_images;
DROP TRIGGER cars_bump_data_version ON cars;
DROP FUNCTION bump_data_version();
DROP TABLE data_version;
