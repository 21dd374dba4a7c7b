-- Device authorizations (issue 13 §4): the user code is stored only as a keyed hash, an
-- approval carries the approving user's session epoch, and the record says when and from
-- which network the device asked (shown on the device page).
-- Codes stored in clear cannot be looked up by hash: drop them (they live minutes).
DELETE FROM device_authorizations;
ALTER TABLE device_authorizations RENAME COLUMN user_code TO user_code_hash;
ALTER TABLE device_authorizations ADD COLUMN user_epoch INTEGER;
ALTER TABLE device_authorizations ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_authorizations ADD COLUMN requested_from TEXT NOT NULL DEFAULT '';
