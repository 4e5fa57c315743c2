-- name: favorites_list_car_ids
-- The ids of the cars a user marked as favorite, oldest favorite first (many rows).
-- Used by: GET /api/favorites, POST /api/favorites/toggle. Index: unique_user_car.
SELECT car_id
FROM favorites
WHERE user_id = %(user_id)s
ORDER BY
    created_at,
    id;

-- name: favorites_lock_pair
-- Serialize toggles of one user's favorite for one car until the transaction
-- ends (a transaction-level advisory lock on a key naming the pair; one row).
-- Used by: POST /api/favorites/toggle.
SELECT pg_advisory_xact_lock(
    hashtextextended('favorites:' || %(user_id)s::text || ':' || %(car_id)s::text, 0)
) AS locked;

-- name: favorites_remove
-- Remove one favorite; returns its id, or no row when there was none.
-- Used by: POST /api/favorites/toggle (first half of the toggle).
DELETE FROM favorites
WHERE
    user_id = %(user_id)s
    AND car_id = %(car_id)s
RETURNING id;

-- name: favorites_add
-- Add one favorite; returns its id, or no row when it already exists (a
-- concurrent toggle inserted it). Used by: POST /api/favorites/toggle.
INSERT INTO favorites (user_id, car_id)
VALUES (%(user_id)s, %(car_id)s)
ON CONFLICT ON CONSTRAINT unique_user_car DO NOTHING
RETURNING id;
