-- Why: the old server stored every upload as a base64 data: URL in
-- car_images.image_url, so every car list carried megabytes of image text.
-- Image bytes now live in car_image_files (bytea, served by their own route
-- with an ETag); car_images.image_url keeps only plain links such as
-- /images/car1.png. Old data: URLs are decoded into the new table here, and
-- a data: URL that does not decode is left in place and recorded in
-- legacy_row_repairs.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE car_image_files (
    image_id integer CONSTRAINT car_image_files_pkey PRIMARY KEY
    CONSTRAINT car_image_files_image_id_car_images_id_fk
    REFERENCES car_images (id) ON DELETE CASCADE,
    content_type varchar(100) NOT NULL,
    content bytea NOT NULL,
    byte_size integer NOT NULL CONSTRAINT car_image_files_byte_size_check CHECK (byte_size >= 0),
    width integer,
    height integer,
    etag varchar(64) NOT NULL,
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

COMMENT ON TABLE car_image_files IS
'Bytes of uploaded car images, one row per car_images row; served by the API with an ETag.';
COMMENT ON COLUMN car_image_files.image_id IS 'The car_images row; the file is deleted with it.';
COMMENT ON COLUMN car_image_files.content_type IS 'MIME type of content, e.g. image/jpeg.';
COMMENT ON COLUMN car_image_files.content IS 'The image bytes.';
COMMENT ON COLUMN car_image_files.byte_size IS 'Length of content in bytes.';
COMMENT ON COLUMN car_image_files.width IS 'Width in pixels; NULL when not known (images moved from data: URLs).';
COMMENT ON COLUMN car_image_files.height IS 'Height in pixels; NULL when not known.';
COMMENT ON COLUMN car_image_files.etag IS 'Entity tag sent in the ETag header (a hash of content).';
COMMENT ON COLUMN car_image_files.created_at IS 'When the file was stored (UTC).';

CREATE FUNCTION pg_temp.decode_base64(encoded text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
    RETURN decode(regexp_replace(encoded, '\s', '', 'g'), 'base64');
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$fn$;

WITH data_urls AS (
    SELECT
        id,
        image_url,
        coalesce(nullif(substring(image_url FROM '^data:([^;,]+)'), ''), 'application/octet-stream')
            AS content_type,
        pg_temp.decode_base64(substring(image_url FROM ';base64,(.*)$')) AS content
    FROM car_images
    WHERE image_url LIKE 'data:%'
),

stored AS (
    INSERT INTO car_image_files (image_id, content_type, content, byte_size, etag)
    SELECT
        id,
        content_type,
        content,
        length(content),
        md5(content)
    FROM data_urls
    WHERE content IS NOT NULL
    RETURNING image_id
),

undecodable AS (
    INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
    SELECT
        'car_images',
        id,
        'image_url',
        NULL,
        NULL,
        'data: URL could not be decoded; left in place'
    FROM data_urls
    WHERE content IS NULL
)

UPDATE car_images
SET image_url = NULL
FROM stored
WHERE car_images.id = stored.image_id;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table

-- Put the bytes back into data: URLs, as the old server expects.
UPDATE car_images
SET
    image_url = 'data:' || files.content_type || ';base64,'
    || replace(encode(files.content, 'base64'), E'\n', '')
FROM car_image_files AS files
WHERE car_images.id = files.image_id;

DROP TABLE car_image_files;
