-- Why: the settings the service reads were spelled out three times in
-- sql/queries/settings.sql (read, lock, and what the update returns). Like the
-- row views of 0021, the shape now lives in one view that the queries read, lock
-- and write through. A view holds no data: creating it only takes catalog locks.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE VIEW settings_rows AS
SELECT
    maintenance_enabled,
    maintenance_message,
    discount_percent,
    discount_label,
    discount_starts_at,
    discount_ends_at,
    updated_at,
    updated_by
FROM settings
WHERE id;

COMMENT ON VIEW settings_rows IS
'The run-time settings as the service reads them: every settings query selects from (or writes through) this view.';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-view

DROP VIEW settings_rows;
