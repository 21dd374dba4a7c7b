-- authfn on Cloudflare Workers: the records that need a strongly consistent store (D1).
-- Session records live in Workers KV; see shared/src/store/cloudflare.rs for who holds what.
-- Applied by `wrangler d1 migrations apply DB` (wrangler.toml points migrations_dir here).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    -- Normalised (authfn::email); UNIQUE is what makes one of two concurrent sign-ups lose.
    email         TEXT NOT NULL UNIQUE,
    -- NULL for users who only sign in through an identity provider.
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    -- Bumped by "sign out everywhere": sessions carrying an older epoch are refused.
    session_epoch INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Rate limits, sign-in failures and locks: one row per key, live until expires_at (Unix s).
CREATE TABLE counters (
    key        TEXT PRIMARY KEY,
    count      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- Signed-out session tokens (SHA-256, hex) until the session would have expired anyway:
-- KV's delete takes up to a minute to reach every location, this row does not.
CREATE TABLE revoked_sessions (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

-- The cron purge deletes by expiry.
CREATE INDEX counters_expiry ON counters (expires_at);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
