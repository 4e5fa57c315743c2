-- Why: the ETag of public reads is data_version.version (0035), one more for every
-- statement that writes what they show. A failover that loses the last commits, or a
-- restore of an older backup, takes the number back; counting on with + 1 from there
-- issued numbers again that clients already held for other data, and a client holding
-- one would have been answered 304 with data it no longer shows. A bump now takes the
-- greater of the next number and the clock (microseconds since 1970): the first write
-- after any going back lands past every number issued before it (a number never runs
-- ahead of the clock unless more than one statement a microsecond writes), while a state
-- restored as it was keeps the number it was issued under (its answers are the same).
-- After a failover this rests on the new primary's clock being behind the old one's by
-- less than the failover took (clocks kept by NTP). `cms restore` advances the counter once
-- after a restore (advance_data_version): a client may hold the restored number with newer
-- data (a tag is read before its data), which it then downloads once more.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE FUNCTION advance_data_version() RETURNS void
LANGUAGE sql AS $$
    UPDATE data_version
    SET
        version = greatest(version + 1, (extract(EPOCH FROM clock_timestamp()) * 1000000)::bigint),
        changed_at = now() AT TIME ZONE 'utc'
    WHERE id;
$$;

COMMENT ON FUNCTION advance_data_version() IS
'data_version.version to the greater of + 1 and the clock in µs: every write of what public reads show, and a restore.';

CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM advance_data_version();
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION bump_data_version() IS
'Statement trigger: advance_data_version() in the writing transaction (the ETag of public reads).';

COMMENT ON COLUMN data_version.version IS
'Grows with every statement that writes cars, car images and files, reviews, settings, or users'' names and '
'activation: + 1, or to the clock in µs since 1970 when that is greater (never back to a number issued before).';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- squawk-ignore-file ban-drop-function

CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1, changed_at = now() AT TIME ZONE 'utc' WHERE id;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION bump_data_version() IS
'Statement trigger: data_version.version + 1 in the writing transaction (the ETag of public reads).';

COMMENT ON COLUMN data_version.version IS
'Statements so far that wrote cars, car images and files, reviews, settings, or users'' names and activation.';

DROP FUNCTION advance_data_version();
