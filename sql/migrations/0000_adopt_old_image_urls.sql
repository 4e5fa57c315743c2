-- Why: old deployments declare car_images.image_url NOT NULL, and 0008 moves
-- their base64 data: URLs into car_image_files and leaves NULL behind, so
-- `dbmate up` on a real old database stopped at 0008. Migrations 0001-0016 are
-- applied in deployments and never change, so this fix is numbered 0000:
-- dbmate runs it before 0001 on a database being adopted (and, once, as a
-- no-op on databases already migrated, since it applies a pending file even
-- when later ones are applied). It relaxes the one column 0001 declares
-- nullable and 0008 needs nullable, and only on an old database that 0008 has
-- not reached yet. No row changes here; migrations 0018-0020 later give every
-- database the old deployments' NOT NULL columns.

-- migrate:up

SET LOCAL lock_timeout = '5s';

DO $$
BEGIN
    IF to_regclass('public.car_images') IS NOT NULL
       AND to_regclass('public.car_image_files') IS NULL THEN
        ALTER TABLE car_images ALTER COLUMN image_url DROP NOT NULL;
    END IF;
END
$$;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- Undo on an old database still without car_image_files (as the up section found it).
DO $$
BEGIN
    -- Nested, so that car_images is only read when it exists.
    IF to_regclass('public.car_images') IS NOT NULL AND to_regclass('public.car_image_files') IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM car_images WHERE image_url IS NULL) THEN
            ALTER TABLE car_images ALTER COLUMN image_url SET NOT NULL;
        END IF;
    END IF;
END
$$;
