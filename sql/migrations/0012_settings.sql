-- Why: admins switch maintenance mode and a global discount at run time, and
-- every instance must see the change without a restart. The settings live in
-- one typed row that every request reads.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE settings (
    id boolean PRIMARY KEY DEFAULT TRUE CONSTRAINT settings_single_row_check CHECK (id),
    maintenance_enabled boolean NOT NULL DEFAULT FALSE,
    maintenance_message text NOT NULL
    DEFAULT 'The marketplace is down for maintenance. Please try again soon.',
    discount_percent numeric(5, 2) NOT NULL DEFAULT 0
    CONSTRAINT settings_discount_percent_check CHECK (discount_percent >= 0 AND discount_percent <= 90),
    discount_label varchar(100),
    discount_starts_at timestamp,
    discount_ends_at timestamp,
    updated_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_by integer
    CONSTRAINT settings_updated_by_users_id_fk REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT settings_discount_range_check CHECK (
        discount_starts_at IS NULL OR discount_ends_at IS NULL OR discount_starts_at < discount_ends_at
    )
);

COMMENT ON TABLE settings IS 'Run-time settings of the marketplace: exactly one row.';
COMMENT ON COLUMN settings.id IS 'Always true: makes the table hold a single row.';
COMMENT ON COLUMN settings.maintenance_enabled IS 'While true, non-admin requests get 503 (except /ping and login).';
COMMENT ON COLUMN settings.maintenance_message IS 'Message shown during maintenance.';
COMMENT ON COLUMN settings.discount_percent IS 'Global discount on car prices, 0 to 90 percent.';
COMMENT ON COLUMN settings.discount_label IS 'Label shown next to discounted prices.';
COMMENT ON COLUMN settings.discount_starts_at IS 'Discount start (UTC); NULL means already started.';
COMMENT ON COLUMN settings.discount_ends_at IS 'Discount end (UTC, exclusive); NULL means open-ended.';
COMMENT ON COLUMN settings.updated_at IS 'Last change (UTC).';
COMMENT ON COLUMN settings.updated_by IS 'Admin who made the last change.';

INSERT INTO settings (id) VALUES (TRUE) ON CONFLICT (id) DO NOTHING;

CREATE TRIGGER settings_set_updated_at BEFORE UPDATE ON settings
FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table
DROP TABLE settings;
