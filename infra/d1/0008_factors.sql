-- Issue 16: second factors and passkeys. Everything here must have one winner under races, so
-- it lives in D1 (strong), never in KV. Secrets are stored encrypted (TOTP) or as hashes
-- (recovery codes, pending sign-in tokens, WebAuthn challenges).

-- The factor summary on the account, written in the same batch as every factor change, so a
-- sign-in knows from the user row alone whether to ask for a second factor. Accounts from
-- before this migration have none.
ALTER TABLE users ADD COLUMN totp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN passkeys INTEGER NOT NULL DEFAULT 0;

-- An authenticator app between enrolment and its first correct code: one per user (a new one
-- replaces it). `secret` is the data-key ciphertext (random nonce, so it also names this
-- enrolment: a confirmation is conditioned on it).
CREATE TABLE totp_enrolments (
    user_id    TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX totp_enrolments_expiry ON totp_enrolments (expires_at);

-- An authenticator app turned on: at most one per user. `last_step` is the last accepted time
-- step, set by compare-and-set (`UPDATE … WHERE last_step IS NULL OR last_step < ?`).
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY,
    secret       TEXT NOT NULL,
    last_step    INTEGER,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;

-- A user's recovery codes: the set (when it was made) and one row per unused code's hash, so
-- using a code is one `DELETE` that exactly one of two racing requests gets a change from.
CREATE TABLE recovery_code_sets (
    user_id    TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- Passkeys. The primary key is the credential id (base64url): unique across all accounts, so
-- of two registrations of one id the second fails the whole batch. `id` is our factor id.
CREATE TABLE passkeys (
    credential_id   TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    id              TEXT NOT NULL,
    -- The COSE_Key as registered, base64url.
    public_key      TEXT NOT NULL,
    sign_count      INTEGER NOT NULL,
    -- JSON array of transport names.
    transports      TEXT NOT NULL,
    backup_eligible INTEGER NOT NULL,
    backed_up       INTEGER NOT NULL,
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    UNIQUE (user_id, id)
) STRICT;

-- Sign-ins whose first factor passed, waiting for the second (by SHA-256 of their token).
CREATE TABLE pending_sign_ins (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    user_epoch   INTEGER NOT NULL,
    -- 'password', 'email_code' or 'federated'.
    first_factor TEXT NOT NULL,
    -- Wrong second factors so far; the one that reaches the limit deletes the row.
    failures     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_sign_ins_expiry ON pending_sign_ins (expires_at);
CREATE INDEX pending_sign_ins_user ON pending_sign_ins (user_id);

-- WebAuthn challenges in flight (by SHA-256 of the challenge bytes), single use: a take is
-- `DELETE … RETURNING`. `purpose` is 'register' (with `user_id`, `user_epoch`), 'sign_in', or
-- 'second_factor' (with `pending`, the pending sign-in's token hash).
CREATE TABLE webauthn_challenges (
    challenge_hash TEXT PRIMARY KEY,
    purpose        TEXT NOT NULL,
    user_id        TEXT,
    user_epoch     INTEGER,
    pending        TEXT,
    expires_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
