-- Why: the columns the service reads of a car, an order, a car image, a user
-- and an inquiry were spelled out in up to a dozen queries each (and the
-- NULL-documents, data:-URL and no-password-hash rules with them). Each shape
-- now lives in one view that every query reads
-- (and writes through, where the view is updatable), so a column is added or
-- a rule changed in one place. Views hold no data: creating them only takes
-- catalog locks.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE VIEW car_rows AS
SELECT
    id,
    title,
    price,
    description,
    seller_id,
    status,
    brand,
    model,
    year,
    fuel_type,
    image,
    rejection_reason,
    created_at,
    updated_at
FROM cars;

COMMENT ON VIEW car_rows IS
'A car as the service reads it: every query of a car selects from (or writes through) this view.';

CREATE VIEW order_rows AS
SELECT
    id,
    car_id,
    buyer_id,
    seller_id,
    final_price,
    status,
    coalesce(documents, '[]'::jsonb) AS documents,
    created_at,
    updated_at
FROM orders;

COMMENT ON VIEW order_rows IS
'An order as the service reads it: documents never NULL (old rows may hold NULL).';

CREATE VIEW car_image_rows AS
SELECT
    i.id,
    i.car_id,
    CASE WHEN starts_with(i.image_url, 'data:') THEN NULL ELSE i.image_url END AS image_url,
    i.is_primary,
    i.display_order,
    i.created_at,
    i.updated_at,
    exists(SELECT 1 FROM car_image_files AS f WHERE f.image_id = i.id) AS has_file
FROM car_images AS i;

COMMENT ON VIEW car_image_rows IS
'A car image without its bytes: image_url NULL while it holds a data: URL; has_file when a file is stored.';

CREATE VIEW user_rows AS
SELECT
    id,
    name,
    email,
    role,
    is_active,
    last_login,
    phone,
    address,
    avatar,
    created_at,
    updated_at
FROM users;

COMMENT ON VIEW user_rows IS
'A user as the service shows it: every column but password_hash.';

CREATE VIEW inquiry_rows AS
SELECT
    id,
    car_id,
    user_id,
    seller_id,
    message,
    status,
    type,
    requested_date,
    response,
    created_at,
    updated_at
FROM inquiries;

COMMENT ON VIEW inquiry_rows IS
'An inquiry as the service reads and writes it.';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-view

DROP VIEW inquiry_rows;
DROP VIEW user_rows;
DROP VIEW car_image_rows;
DROP VIEW order_rows;
DROP VIEW car_rows;
