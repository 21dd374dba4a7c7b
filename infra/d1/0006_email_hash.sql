-- Users are looked up by SHA-256 of their normalised email (hex, `Email::hash`), so no key or
-- lookup column holds an address. The address stays in `email` (the account's record); its
-- old UNIQUE constraint cannot be dropped without rebuilding the table, and still agrees with
-- the hash (one normalised address, one hash).
-- Rows from before this migration have no hash; they are found by `email` until an operator
-- backfills it (`UPDATE users SET email_hash = ? WHERE id = ?`, the hash computed by authfn).
ALTER TABLE users ADD COLUMN email_hash TEXT;
CREATE UNIQUE INDEX users_email_hash ON users (email_hash);
