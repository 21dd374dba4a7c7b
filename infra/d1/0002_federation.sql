-- Federated sign-in (OpenID Connect): identity links and attempts in progress.

-- One row per (issuer, sub) → local user. `key` is SHA-256(issuer || 0x00 || sub), hex: the
-- primary key is what makes one of two concurrent first sign-ins of an identity lose.
CREATE TABLE identities (
    key     TEXT PRIMARY KEY,
    issuer  TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id)
) STRICT;

-- Sign-ins between begin and callback, keyed by SHA-256(state), hex. Each is consumed once
-- by `DELETE … RETURNING`; the cron purge removes abandoned ones.
CREATE TABLE federation_attempts (
    state_hash   TEXT PRIMARY KEY,
    binding_hash TEXT NOT NULL,
    provider     TEXT NOT NULL,
    return_to    TEXT NOT NULL,
    wants_json   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX federation_attempts_expiry ON federation_attempts (expires_at);
