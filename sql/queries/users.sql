-- name: get_user
-- One user by id, without the password hash (or no row).
-- Used by: every authenticated request (token loader), GET /api/users/profile.
SELECT
    user_rows.*,
    users.last_write_lsn::text AS last_write_lsn
FROM user_rows
INNER JOIN users ON user_rows.id = users.id
WHERE user_rows.id = %(id)s;

-- name: find_user_for_login
-- One user by email, compared trimmed and case-insensitively, with the hash:
-- the account stored under the address as typed, else under its normalized
-- form (NFKC, computed by the caller). Used by: POST /api/auth/login.
-- Index: users_email_lower_unique.
SELECT
    user_rows.*,
    users.password_hash
FROM users
INNER JOIN user_rows ON users.id = user_rows.id
WHERE lower(btrim(users.email)) IN (lower(btrim(%(typed_email)s)), lower(btrim(%(email)s)))
ORDER BY lower(btrim(users.email)) = lower(btrim(%(typed_email)s)) DESC
LIMIT 1;

-- name: email_taken
-- Whether an account already uses this email, up to case and blanks (one row).
-- Used by: POST /api/auth/register, POST /api/admin/users, POST /api/admin/sellers.
SELECT exists(
    SELECT 1
    FROM users
    WHERE lower(btrim(email)) = lower(btrim(%(email)s))
) AS taken;

-- name: insert_user
-- Create a user; returns its id (read it back with get_user: user_rows has no
-- password_hash to insert).
-- Used by: POST /api/auth/register, POST /api/admin/users, POST /api/admin/sellers, cms create-admin.
INSERT INTO users (name, email, password_hash, role, phone, address, is_active)
VALUES (
    %(name)s,
    btrim(%(email)s),
    %(password_hash)s,
    %(role)s,
    %(phone)s,
    %(address)s,
    TRUE
)
RETURNING id;

-- name: touch_last_login
-- Record a successful login (no rows returned). Used by: POST /api/auth/login.
UPDATE users
SET last_login = now() AT TIME ZONE 'utc'
WHERE id = %(id)s;

-- name: update_profile
-- Change the caller's own name, phone, address and avatar; NULL keeps a value.
-- Returns the updated row. Used by: PATCH /api/users/profile.
UPDATE user_rows
SET
    name = coalesce(%(name)s, name),
    phone = CASE WHEN %(set_phone)s THEN %(phone)s ELSE phone END,
    address = CASE WHEN %(set_address)s THEN %(address)s ELSE address END,
    avatar = CASE WHEN %(set_avatar)s THEN %(avatar)s ELSE avatar END
WHERE id = %(id)s
RETURNING *;

-- name: list_users
-- Every user, oldest first, without hashes (user_rows). Used by: GET /api/users, GET /api/admin/users.
SELECT *
FROM user_rows
ORDER BY id;

-- name: mark_user_write
-- Record the primary's current WAL position as the user's last write (nothing returned).
-- Used by: every writing request of a signed-in user when read replicas are configured. Index: users_pkey.
UPDATE users SET last_write_lsn = pg_current_wal_insert_lsn()
WHERE id = %(user_id)s;
