-- Car images: rows in car_images, bytes in car_image_files (one file per image).
--
-- Every write to a car's images runs after cars_lock on the car row, so the
-- count limit and the one-primary rule are checked and changed by one request
-- at a time. Images are read (and changed) through the view car_image_rows:
-- image_url is NULL when it still holds a data: URL, so that no list ever
-- carries image bytes; has_file says whether the API serves the bytes from
-- GET /api/cars/:carId/images/:imageId/file.

-- name: car_images_list
-- The images of one car ordered by display_order (then id); many rows, no bytes.
-- Used by: GET /api/cars/:id, GET /api/cars/:carId/images. Index: car_images_car_id_idx.
SELECT i.*
FROM car_image_rows AS i
WHERE i.car_id = %(car_id)s
ORDER BY i.display_order ASC, i.id ASC;

-- name: car_images_get
-- One image of one car (no row when the image belongs to another car).
-- Used by: PUT/DELETE /api/cars/:carId/images/:imageId.
SELECT i.*
FROM car_image_rows AS i
WHERE i.id = %(image_id)s AND i.car_id = %(car_id)s;

-- name: car_images_stats
-- One row: how many images the car has, the next display_order, and whether
-- one of them is primary. Used by: POST /api/cars/:carId/images.
-- Index: car_images_car_id_idx.
SELECT
    count(*) AS image_count,
    coalesce(max(display_order) + 1, 0) AS next_display_order,
    coalesce(bool_or(is_primary), FALSE) AS has_primary
FROM car_images
WHERE car_id = %(car_id)s;

-- name: car_images_insert_with_file
-- Store one uploaded image: its car_images row (no image_url) and its bytes in
-- car_image_files, in one statement; returns the image row.
-- Used by: POST /api/cars/:carId/images.
WITH image AS (
    INSERT INTO car_images (car_id, image_url, is_primary, display_order)
    VALUES (%(car_id)s, NULL, %(is_primary)s, %(display_order)s)
    RETURNING
        id,
        car_id,
        image_url,
        is_primary,
        display_order,
        created_at,
        updated_at
),

file AS (
    INSERT INTO car_image_files (image_id, content_type, content, byte_size, width, height, etag)
    SELECT
        image.id,
        %(content_type)s AS content_type,
        %(content)s AS content,
        %(byte_size)s AS byte_size,
        %(width)s AS width,
        %(height)s AS height,
        %(etag)s AS etag
    FROM image
)

SELECT
    image.id,
    image.car_id,
    image.image_url,
    image.is_primary,
    image.display_order,
    image.created_at,
    image.updated_at,
    TRUE AS has_file
FROM image;

-- name: car_images_clear_primary
-- Unmark the car's primary image unless it is image_id (no rows returned).
-- Runs before car_images_update sets the new one, so the partial unique index
-- car_images_one_primary_per_car never sees two. Used by: PUT /api/cars/:carId/images/:imageId.
UPDATE car_images
SET is_primary = FALSE
WHERE car_id = %(car_id)s AND is_primary AND id <> %(image_id)s;

-- name: car_images_update
-- Make the image primary (make_primary) and/or move it (display_order, NULL
-- keeps it); returns the image row. Used by: PUT /api/cars/:carId/images/:imageId.
UPDATE car_image_rows AS i
SET
    is_primary = i.is_primary OR %(make_primary)s::boolean,
    display_order = coalesce(%(display_order)s::integer, i.display_order)
WHERE i.id = %(image_id)s AND i.car_id = %(car_id)s
RETURNING *;

-- name: car_images_delete
-- Remove one image of one car (its file cascades); returns whether it was primary.
-- Used by: DELETE /api/cars/:carId/images/:imageId.
DELETE FROM car_images
WHERE id = %(image_id)s AND car_id = %(car_id)s
RETURNING
    id,
    is_primary;

-- name: car_images_promote_first
-- Make the first remaining image (lowest display_order, then id) primary when
-- the car has images but no primary one (no rows returned).
-- Used by: DELETE /api/cars/:carId/images/:imageId. Index: car_images_car_id_idx.
UPDATE car_images
SET is_primary = TRUE
WHERE
    id = (
        SELECT first_image.id
        FROM car_images AS first_image
        WHERE first_image.car_id = %(car_id)s
        ORDER BY first_image.display_order ASC, first_image.id ASC
        LIMIT 1
    )
    AND NOT EXISTS (
        SELECT 1
        FROM car_images AS current_primary
        WHERE current_primary.car_id = %(car_id)s AND current_primary.is_primary
    );

-- name: car_images_get_file
-- The stored file of one image of one car: content type, etag, size, and the
-- bytes unless the etag is among known_etags (the client's If-None-Match; it
-- gets a 304 and the bytes stay in the database). No row when there is no file.
-- Used by: GET /api/cars/:carId/images/:imageId/file.
SELECT
    f.content_type,
    f.etag,
    f.byte_size,
    CASE WHEN f.etag = any(%(known_etags)s::text[]) THEN NULL ELSE f.content END AS content
FROM car_image_files AS f
INNER JOIN car_images AS i ON f.image_id = i.id
WHERE i.id = %(image_id)s AND i.car_id = %(car_id)s;
