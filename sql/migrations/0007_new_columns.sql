-- Why: the new API stores what the old one dropped: the reason an admin gave
-- when rejecting a listing, and the text a seller wrote when responding to an
-- inquiry. Both are nullable columns, so adding them rewrites nothing.

-- migrate:up

ALTER TABLE cars ADD COLUMN rejection_reason text;
ALTER TABLE inquiries ADD COLUMN response text;

-- migrate:down

ALTER TABLE inquiries DROP COLUMN response;
ALTER TABLE cars DROP COLUMN rejection_reason;
