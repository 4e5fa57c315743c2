-- Why: each sort order of the car list is now its own short query
-- (sql/queries/car_list.sql). What they share, a car as the list shows it with
-- its primary image, lives in this view, so that a change to the image rule is
-- made once. A view holds no data: creating it only takes catalog locks.

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- The primary image is the one marked primary (car_images_one_primary_per_car),
-- else the first by display order (car_images_car_id_idx). COALESCE evaluates its
-- second argument only when the first is NULL.
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

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-view

DROP VIEW car_list_rows;
