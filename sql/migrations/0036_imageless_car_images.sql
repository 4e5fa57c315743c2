-- Why: an old data: URL that does not decode left its car_images row with no
-- link and no stored bytes (0008, 0017), so the API offered it as an image
-- whose imageUrl is null, as the car's primary image too, and the old client
-- put that null into an <img src>. The contract (docs/api-contract.md) makes
-- imageUrl something a browser can load, so such a row is no image: it is
-- removed, its whole row recorded in legacy_row_repairs (the data: URL itself
-- stays in 0017's record), and where it was the car's primary image the car's
-- first remaining image (display order, then id) becomes primary, recorded too.
-- The down section puts both back. On a database without such rows (every one
-- not adopted from the old server) it changes nothing.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TEMPORARY TABLE imageless ON COMMIT DROP AS
SELECT image.*
FROM car_images AS image
WHERE
    image.image_url IS NULL
    AND NOT EXISTS (SELECT 1 FROM car_image_files AS file WHERE file.image_id = image.id);

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'car_images',
    imageless.id,
    '*',
    to_jsonb(imageless),
    NULL,
    'no link and no stored bytes: not an image, removed'
FROM imageless;

DELETE FROM car_images
USING imageless
WHERE car_images.id = imageless.id;

WITH first_remaining AS (
    SELECT DISTINCT ON (image.car_id) image.id
    FROM car_images AS image
    WHERE
        image.car_id IN (SELECT imageless.car_id FROM imageless WHERE imageless.is_primary)
        AND NOT EXISTS (
            SELECT 1 FROM car_images AS other
            WHERE other.car_id = image.car_id AND other.is_primary
        )
    ORDER BY image.car_id ASC, image.display_order ASC, image.id ASC
),

promoted AS (
    UPDATE car_images
    SET is_primary = TRUE
    FROM first_remaining
    WHERE car_images.id = first_remaining.id
    RETURNING car_images.id
)

INSERT INTO legacy_row_repairs (table_name, row_id, column_name, old_value, new_value, reason)
SELECT
    'car_images',
    promoted.id,
    'is_primary',
    to_jsonb(FALSE),
    to_jsonb(TRUE),
    'became primary: the primary image had no link and no stored bytes'
FROM promoted;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- Demote first: a car has one primary image at a time.
UPDATE car_images
SET is_primary = FALSE
FROM legacy_row_repairs AS repairs
WHERE
    repairs.table_name = 'car_images'
    AND repairs.column_name = 'is_primary'
    AND repairs.reason = 'became primary: the primary image had no link and no stored bytes'
    AND car_images.id = repairs.row_id;

INSERT INTO car_images (id, car_id, image_url, is_primary, display_order, created_at, updated_at)
SELECT
    restored.id,
    restored.car_id,
    restored.image_url,
    restored.is_primary,
    restored.display_order,
    restored.created_at,
    restored.updated_at
FROM legacy_row_repairs AS repairs
CROSS JOIN LATERAL jsonb_populate_record(NULL::car_images, repairs.old_value) AS restored
WHERE
    repairs.table_name = 'car_images'
    AND repairs.column_name = '*'
    AND repairs.reason = 'no link and no stored bytes: not an image, removed';

DELETE FROM legacy_row_repairs
WHERE
    table_name = 'car_images'
    AND reason IN (
        'no link and no stored bytes: not an image, removed',
        'became primary: the primary image had no link and no stored bytes'
    );
