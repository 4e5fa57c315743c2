-- Why: the new API stores what the old one dropped: the reason an admin gave
-- when rejecting a listing, and the text a seller wrote when responding to an
-- inquiry. Both are nullable columns, so adding them rewrites nothing.

-- migrate:up

SET LOCAL lock_timeout = '5s';

ALTER TABLE cars ADD COLUMN rejection_reason text;
ALTER TABLE inquiries ADD COLUMN response text;

COMMENT ON COLUMN cars.rejection_reason IS
'Reason an admin gave when rejecting the listing; NULL unless status is rejected.';
COMMENT ON COLUMN inquiries.response IS 'The seller''s written answer, when one was given.';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-column

ALTER TABLE inquiries DROP COLUMN response;
ALTER TABLE cars DROP COLUMN rejection_reason;
