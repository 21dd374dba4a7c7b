-- Tokens for CLI and mobile clients: device authorizations (RFC 8628) and refresh tokens.

-- Keyed by SHA-256(device code), hex. `version` makes every update a compare-and-swap, so one
-- approval and one token issue win however many requests race.
CREATE TABLE device_authorizations (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL,
    user_id          TEXT,
    interval_secs    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    version          INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX device_authorizations_user_code ON device_authorizations (user_code, expires_at);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);

-- Keyed by SHA-256(refresh token), hex; `active` = 0 once rotated.
CREATE TABLE refresh_tokens (
    token_hash        TEXT PRIMARY KEY,
    family_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    active            INTEGER NOT NULL,
    family_expires_at INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Families revoked after a reuse (or by RFC 7009 revocation), until their absolute end.
CREATE TABLE revoked_token_families (
    family_id  TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_token_families_expiry ON revoked_token_families (expires_at);
