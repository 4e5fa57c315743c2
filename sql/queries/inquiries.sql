-- name: inquiries_find_car
-- The car an inquiry is about: its id, seller and title (one row, or none).
-- Used by: POST /api/inquiries.
SELECT
    id,
    seller_id,
    title
FROM cars
WHERE id = %(car_id)s;

-- name: inquiries_insert
-- Create an inquiry in status open; returns the new row.
-- Used by: POST /api/inquiries.
INSERT INTO inquiry_rows (car_id, user_id, seller_id, message, status, type, requested_date)
VALUES (
    %(car_id)s,
    %(user_id)s,
    %(seller_id)s,
    %(message)s,
    'open',
    %(type)s,
    %(requested_date)s
)
RETURNING *;

-- name: inquiries_list_for_user
-- The inquiries a user sent, newest first (many rows).
-- Used by: GET /api/inquiries. Index: inquiries_user_id_idx.
SELECT *
FROM inquiry_rows
WHERE user_id = %(user_id)s
ORDER BY
    created_at DESC,
    id DESC;

-- name: inquiries_list_for_seller
-- The inquiries addressed to a seller, newest first; a NULL seller_id means
-- every inquiry (admin). Many rows. Used by: GET /api/seller/inquiries.
-- Index: inquiries_seller_id_idx.
-- Never prepared: a generic plan cannot know whether seller_id is given and reads
-- every inquiry (tests/test_query_plans.py).
SELECT *
FROM inquiry_rows
WHERE (%(seller_id)s::integer IS NULL OR seller_id = %(seller_id)s::integer)
ORDER BY
    created_at DESC,
    id DESC;

-- name: inquiries_lock
-- One inquiry by id, locked until the end of the transaction so that the
-- ownership check and the update see the same row (one row, or none).
-- Used by: PATCH /api/seller/inquiries/:id.
SELECT *
FROM inquiry_rows
WHERE id = %(id)s
FOR UPDATE;

-- name: inquiries_update_status
-- Set an inquiry's status and, when set_response is true, its response text;
-- returns the updated row. Used by: PATCH /api/seller/inquiries/:id.
UPDATE inquiry_rows
SET
    status = %(status)s,
    response = CASE WHEN %(set_response)s THEN %(response)s::text ELSE response END
WHERE id = %(id)s
RETURNING *;
