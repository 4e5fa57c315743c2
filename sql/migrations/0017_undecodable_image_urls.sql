-- Why: 0008 left each data: URL it could not decode (an upload cut off, a
-- payload that is not base64) in car_images.image_url and recorded it in
-- legacy_row_repairs without its value. The API never sends such a URL (no
-- client can show it), yet every read of the row drags its megabytes along,
-- and 0002's down section, which restores old values from the record, would
-- put NULL back in its place. The URL now moves into its record (old_value)
-- and image_url becomes NULL, as for the images 0008 did decode: nothing is
-- lost, and the record restores it.

-- migrate:up

SET LOCAL lock_timeout = '5s';

WITH moved AS (
    UPDATE legacy_row_repairs AS repairs
    SET
        old_value = to_jsonb(images.image_url),
        reason = 'data: URL could not be decoded; moved here from car_images.image_url'
    FROM car_images AS images
    WHERE
        repairs.table_name = 'car_images'
        AND repairs.column_name = 'image_url'
        AND repairs.reason = 'data: URL could not be decoded; left in place'
        AND images.id = repairs.row_id
        AND starts_with(images.image_url, 'data:')
    RETURNING repairs.row_id
)

UPDATE car_images
SET image_url = NULL
FROM moved
WHERE car_images.id = moved.row_id;

COMMENT ON COLUMN car_images.image_url IS
'Link to the image, e.g. /images/car1.png; NULL when the bytes are stored in car_image_files '
'(or, for an old data: URL that did not decode, in legacy_row_repairs.old_value).';

-- migrate:down

SET LOCAL lock_timeout = '5s';

COMMENT ON COLUMN car_images.image_url IS
'Link to the image, e.g. /images/car1.png; NULL when the bytes are stored in car_image_files.';

-- Put the URLs back. The record keeps the URL as its old value, so that 0002's
-- down section restores it too (rather than the NULL 0008 recorded).
UPDATE car_images
SET image_url = repairs.old_value #>> '{}'
FROM legacy_row_repairs AS repairs
WHERE
    repairs.table_name = 'car_images'
    AND repairs.column_name = 'image_url'
    AND repairs.reason = 'data: URL could not be decoded; moved here from car_images.image_url'
    AND car_images.id = repairs.row_id;

UPDATE legacy_row_repairs
SET reason = 'data: URL could not be decoded; left in place'
WHERE
    table_name = 'car_images'
    AND column_name = 'image_url'
    AND reason = 'data: URL could not be decoded; moved here from car_images.image_url';
