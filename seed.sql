-- Demo data for the CMS service: three accounts, three cars, their images
-- and a review. Load it on a migrated database with
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f seed.sql
-- It can run any number of times: every insert skips rows that already exist
-- (accounts by email, cars by seller and title, images by car and URL,
-- reviews by car and author), so nothing is duplicated or overwritten.
-- Passwords are bcrypt hashes (cost 10) of admin123, seller123 and user123.

BEGIN;

-- Accounts: one per role.
INSERT INTO users (name, email, password_hash, role, is_active)
VALUES
(
    'Admin User', 'admin@example.com',
    '$2b$10$xHu5OCIILmJdVRTU6C.fdOvyh8JnW2xrsuqZ2kZt6MwiJR5RhsoMO', 'admin', TRUE
),
(
    'Sam Seller', 'seller@example.com',
    '$2b$10$pnR11rw6u0iTwtCTY/ECD.KwNx7R.CV463dGd.f/xykjcwuVOh3ui', 'seller', TRUE
),
(
    'Uma User', 'user@example.com',
    '$2b$10$dzj9rCXMs6T3c1opd7gNs.2DTEYCzEEN3hBL2h9o6MAQg2IlrAwma', 'user', TRUE
)
ON CONFLICT ((lower(btrim(email)))) DO NOTHING;

-- Cars: the seller's three listings, all on sale.
INSERT INTO cars (
    title, price, description, seller_id, status, brand, model, year, fuel_type, image
)
SELECT
    listing.title,
    listing.price,
    listing.description,
    seller.id,
    'available',
    listing.brand,
    listing.model,
    listing.year,
    listing.fuel_type,
    listing.image
FROM (
    VALUES
    (
        'Aura GT-S Concept', 185000.00,
        'Electric grand tourer with a 600 km range and a glass roof.',
        'Aura', 'GT-S', 2024, 'Electric', '/images/car1.png'
    ),
    (
        'Mountain Defender Pro', 74900.00,
        'Rugged gasoline off-roader with permanent four-wheel drive.',
        'Defender', 'Pro', 2023, 'Gasoline', '/images/car2.png'
    ),
    (
        'Lunar Lucid Sedan', 92000.00,
        'Quiet electric sedan with a spacious cabin and fast charging.',
        'Lunar', 'Lucid', 2024, 'Electric', '/images/car3.png'
    )
) AS listing (title, price, description, brand, model, year, fuel_type, image)
INNER JOIN users AS seller ON lower(btrim(seller.email)) = 'seller@example.com'
WHERE NOT EXISTS (
    SELECT 1
    FROM cars AS existing
    WHERE existing.seller_id = seller.id AND existing.title = listing.title
);

-- Images: each car's picture as its primary image (a link the frontend serves).
INSERT INTO car_images (car_id, image_url, is_primary, display_order)
SELECT
    car.id,
    car.image,
    NOT EXISTS (
        SELECT 1 FROM car_images AS other
        WHERE other.car_id = car.id AND other.is_primary
    ),
    0
FROM cars AS car
INNER JOIN users AS seller ON car.seller_id = seller.id
WHERE
    lower(btrim(seller.email)) = 'seller@example.com'
    AND car.title IN ('Aura GT-S Concept', 'Mountain Defender Pro', 'Lunar Lucid Sedan')
    AND NOT EXISTS (
        SELECT 1 FROM car_images AS existing
        WHERE existing.car_id = car.id AND existing.image_url = car.image
    );

-- Reviews: the buyer's opinion of the first car.
INSERT INTO reviews (car_id, user_id, user_name, rating, comment)
SELECT
    car.id AS car_id,
    buyer.id AS user_id,
    buyer.name AS user_name,
    5 AS rating,
    'Stunning car, smooth test drive.' AS comment
FROM cars AS car
INNER JOIN users AS seller ON car.seller_id = seller.id
INNER JOIN users AS buyer ON lower(btrim(buyer.email)) = 'user@example.com'
WHERE
    car.title = 'Aura GT-S Concept'
    AND lower(btrim(seller.email)) = 'seller@example.com'
ON CONFLICT (car_id, user_id) DO NOTHING;

COMMIT;
