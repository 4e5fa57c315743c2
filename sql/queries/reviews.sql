-- name: reviews_list_for_car
-- A car's reviews, newest first (many rows). user_name is never NULL: the
-- stored name, else the reviewer's current name, else 'Anonymous' (old rows
-- may lack both). Used by: GET /api/reviews/car/:carId.
-- Index: reviews_one_per_user_and_car (car_id first).
SELECT
    reviews.id,
    reviews.car_id,
    reviews.user_id,
    coalesce(nullif(btrim(reviews.user_name), ''), nullif(btrim(users.name), ''), 'Anonymous') AS user_name,
    reviews.rating,
    reviews.comment,
    reviews.created_at
FROM reviews
LEFT JOIN users ON users.id = reviews.user_id
WHERE reviews.car_id = %(car_id)s
ORDER BY
    reviews.created_at DESC,
    reviews.id DESC;

-- name: reviews_upsert
-- Create the user's review of a car, or replace the rating, comment and name
-- of the one they already wrote (it keeps its id and created_at); returns the
-- row. Used by: POST /api/reviews. Index: reviews_one_per_user_and_car.
INSERT INTO reviews (car_id, user_id, user_name, rating, comment)
VALUES (
    %(car_id)s,
    %(user_id)s,
    %(user_name)s,
    %(rating)s,
    %(comment)s
)
ON CONFLICT (car_id, user_id) DO UPDATE
    SET
        user_name = excluded.user_name,
        rating = excluded.rating,
        comment = excluded.comment
RETURNING
    id,
    car_id,
    user_id,
    coalesce(nullif(btrim(user_name), ''), 'Anonymous') AS user_name,
    rating,
    comment,
    created_at;
