-- name: insert_admin_action
-- Record one admin write in the audit log (no rows returned); runs in the
-- same transaction as the change it records.
-- Used by: every admin write (POST/PATCH /api/admin/..., car approval).
INSERT INTO admin_actions (admin_id, action_type, target_id, details)
VALUES (%(admin_id)s, %(action_type)s, %(target_id)s, %(details)s);
