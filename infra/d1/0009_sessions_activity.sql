-- Issue 17: a user's own session list and activity.

-- Every session stored since this migration, by user: KV cannot list a user's records, so this
-- index is how the session list (and ending one of them, and deleting the account) finds them.
-- A row mirrors its KV record (written with it, its deadlines moved by every renewal), so the
-- list is one statement. It counts only while its session does: live by both deadlines,
-- carrying the user's current epoch, and not revoked. A session from before this migration
-- gets its row at its next renewal.
CREATE TABLE user_sessions (
    -- SHA-256 of the session token, hex: the KV record's key.
    token_hash       TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    -- The public id the list shows and a revocation names.
    session_id       TEXT NOT NULL,
    -- The user's session epoch when the session began: it counts only while that is current.
    user_epoch       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    -- The absolute end, and the idle deadline that every renewal moves (with `renewed_at`,
    -- the session's "last seen"): the row lapses at the first.
    expires_at       INTEGER NOT NULL,
    idle_expires_at  INTEGER NOT NULL,
    renewed_at       INTEGER NOT NULL,
    -- What the list shows of the client: coarse (a browser and OS family; a /24 or /64).
    device           TEXT,
    network          TEXT
) STRICT;
CREATE INDEX user_sessions_user ON user_sessions (user_id, created_at);
CREATE INDEX user_sessions_expiry ON user_sessions (idle_expires_at);

-- A user's own security events (what `GET /auth/activity` shows), kept 90 days. `json` is the
-- entry as the user sees it, opaque to the store. The primary key is the order pages are read
-- in, newest first: `WHERE user_id = ? AND (time, id) < (?, ?) ORDER BY time DESC, id DESC`.
CREATE TABLE activity (
    user_id    TEXT NOT NULL,
    time       INTEGER NOT NULL,
    id         TEXT NOT NULL,
    json       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, time, id)
) STRICT;
CREATE INDEX activity_expiry ON activity (expires_at);
