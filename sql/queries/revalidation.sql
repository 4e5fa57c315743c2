-- name: data_version_current
-- The number that grows with every statement writing what public reads show, never back to
-- one issued before (one row, one bigint; statement triggers keep it, migrations 0035 and
-- 0042): the base of their ETag.
-- Read it before the data it validates, on the same connection.
-- Used by: GET /api/cars, GET /api/cars/:id, GET /api/cars/:carId/images, GET /api/reviews/car/:carId.
SELECT version
FROM data_version
WHERE id;
