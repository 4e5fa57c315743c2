-- Why: second step of 0027-0029. Validating the NOT VALID checks of 0027
-- reads auth_events once under a SHARE UPDATE EXCLUSIVE lock, which blocks
-- neither reads nor writes (logins keep being recorded meanwhile).

-- migrate:up

SET LOCAL lock_timeout = '5s';

ALTER TABLE auth_events VALIDATE CONSTRAINT auth_events_event_type_check;
ALTER TABLE auth_events VALIDATE CONSTRAINT auth_events_occurrences_check;

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- Nothing to undo: a validated check stays correct, and 0027's down drops or replaces the checks.
