-- name: cars_list_all_json
-- Every car, newest first, as the JSON array GET /api/cars sends (camelCase keys,
-- primaryImage nested, timestamps as ISO-8601 UTC with milliseconds), built by
-- PostgreSQL as one text value: the web worker copies it into the response
-- instead of building 10,000 dicts and dumping them with marshmallow.
-- Used by: GET /api/cars without limit and without filters (the legacy frontend's call).
-- Sketch for the lead: imageUrl still needs the public base URL for stored files
-- (has_file) and the price the active discount, as cms/services do today.
SELECT coalesce(json_agg(row_to_json(listing)), '[]')::text AS body
FROM (
    SELECT
        c.id,
        coalesce(c.title, '') AS title,
        c.price,
        coalesce(c.description, '') AS description,
        c.seller_id AS "sellerId",
        c.status,
        coalesce(c.brand, '') AS brand,
        c.model,
        c.year,
        c.fuel_type AS "fuelType",
        c.image,
        to_char(c.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
        to_char(c.updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt",
        (
            SELECT row_to_json(first_image)
            FROM (
                SELECT
                    i.id,
                    i.car_id AS "carId",
                    CASE WHEN starts_with(i.image_url, 'data:') THEN NULL ELSE i.image_url END AS "imageUrl",
                    i.is_primary AS "isPrimary",
                    i.display_order AS "displayOrder",
                    to_char(i.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
                    to_char(i.updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
                FROM car_images AS i
                WHERE i.car_id = c.id
                ORDER BY i.is_primary DESC, i.display_order ASC, i.id ASC
                LIMIT 1
            ) AS first_image
        ) AS "primaryImage"
    FROM cars AS c
    ORDER BY c.created_at DESC, c.id DESC
) AS listing;
