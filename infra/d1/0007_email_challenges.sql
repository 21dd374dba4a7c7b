-- Issue 15: mailed challenges (email verification, password reset, code sign-in, email
-- change) and whether a user's address has been proven.

-- Accounts made before this migration never proved their address: they read as unverified
-- (so LINK_BY_EMAIL does not link to them) until a mailed link or code proves it.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

-- One live challenge per key (`ChallengeKey`: purpose and SHA-256 of the address, or the user
-- id): the primary key is what makes a new mail void the one before it. Secrets are stored
-- only as hashes: `token_hash` is SHA-256 of the link token (hex), `code_hash` the keyed hash
-- of the 6-digit code (hex). Every take is `DELETE … WHERE key = ? AND token_hash = ?`, so a
-- replaced challenge's link and code are dead at once.
CREATE TABLE challenges (
    key           TEXT PRIMARY KEY,
    -- The address the mail went to (for an email change, the new one).
    email         TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    code_hash     TEXT NOT NULL,
    -- Wrong codes so far; the one that reaches the limit deletes the row.
    failures      INTEGER NOT NULL,
    -- What proving it does: 'sign-up', 'reset-password', 'sign-in' or 'change-email', for
    -- `user_id`; a sign-up also carries the password hash chosen when it was asked for.
    action        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX challenges_expiry ON challenges (expires_at);
