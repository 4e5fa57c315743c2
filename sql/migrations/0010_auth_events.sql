-- Why: every login attempt, registration, lockout and role or activation
-- change is recorded for the admin security log, and failed logins are
-- counted here (in PostgreSQL, not in process memory) so that the login
-- throttle holds across worker processes and service instances.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE TABLE auth_events (
    id bigserial CONSTRAINT auth_events_pkey PRIMARY KEY,
    occurred_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    event_type varchar(30) NOT NULL CONSTRAINT auth_events_event_type_check CHECK (
        event_type IN (
            'login_success', 'login_failure', 'login_throttled', 'register',
            'role_change', 'activation_change'
        )
    ),
    user_id integer
    CONSTRAINT auth_events_user_id_users_id_fk REFERENCES users (id) ON DELETE SET NULL,
    email varchar(255),
    ip varchar(64),
    user_agent text,
    details jsonb NOT NULL DEFAULT '{}'
);

COMMENT ON TABLE auth_events IS
'Security log: logins (successful, failed, throttled), registrations, role and activation changes.';
COMMENT ON COLUMN auth_events.id IS 'Surrogate key.';
COMMENT ON COLUMN auth_events.occurred_at IS 'When it happened (UTC).';
COMMENT ON COLUMN auth_events.event_type IS
'login_success, login_failure, login_throttled, register, role_change or activation_change.';
COMMENT ON COLUMN auth_events.user_id IS 'The account concerned, when known.';
COMMENT ON COLUMN auth_events.email IS 'Email as typed at login (lower-cased and trimmed) or of the account.';
COMMENT ON COLUMN auth_events.ip IS 'Client address (first X-Forwarded-For hop, else the peer).';
COMMENT ON COLUMN auth_events.user_agent IS 'User-Agent header, truncated to 512 characters.';
COMMENT ON COLUMN auth_events.details IS 'Event facts, e.g. the old and new role; never a password.';

CREATE INDEX auth_events_occurred_at_idx ON auth_events (occurred_at DESC, id DESC);
CREATE INDEX auth_events_email_idx ON auth_events (email, occurred_at DESC);
CREATE INDEX auth_events_ip_idx ON auth_events (ip, occurred_at DESC);
CREATE INDEX auth_events_user_id_idx ON auth_events (user_id);

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-table
DROP TABLE auth_events;
