-- name: get_settings
-- The single settings row (maintenance switch, global discount).
-- Used by: every request (maintenance check, cached ~2 s), GET /api/admin/settings, car prices, checkout.
SELECT *
FROM settings_rows;

-- name: lock_settings
-- The settings row, locked for an update (one row). Used by: PUT /api/admin/settings.
SELECT *
FROM settings_rows
FOR UPDATE;

-- name: update_settings
-- Replace every setting (the caller merges the changes first); returns the row.
-- Used by: PUT /api/admin/settings.
UPDATE settings_rows
SET
    maintenance_enabled = %(maintenance_enabled)s,
    maintenance_message = %(maintenance_message)s,
    discount_percent = %(discount_percent)s,
    discount_label = %(discount_label)s,
    discount_starts_at = %(discount_starts_at)s,
    discount_ends_at = %(discount_ends_at)s,
    updated_by = %(updated_by)s
RETURNING *;
