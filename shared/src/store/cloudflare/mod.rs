//! The Cloudflare Workers store: Workers KV for session records, D1 for everything that must
//! have exactly one winner or be seen at once everywhere.
//!
//! | record | where | consistency |
//! |---|---|---|
//! | user (email unique, proven or not, session epoch) | D1 `users` | strong: one primary, `UNIQUE(email_hash)` (SHA-256 of the normalised address) decides concurrent sign-ups |
//! | rate-limit, failure and lock counters | D1 `counters` | strong: one `INSERT … ON CONFLICT … RETURNING` per increment |
//! | session record | KV `session:<sha256>` with `expirationTtl` | eventual: a new session is visible at once where it was written, elsewhere within about 60 s |
//! | session revocation | D1 `revoked_sessions` | strong: a signed-out token is refused everywhere at once |
//! | a user's sessions, as its session list shows them | D1 `user_sessions` (one row per session: written with its KV record, its deadlines moved by each renewal) | strong: the list is one statement (live, current epoch, not revoked); ending one is one batch that reads its row, records the revocation and drops the row |
//! | a user's activity | D1 `activity`, primary key (user, time, id) | strong: pages are read newest first by that key |
//! | federated identity link | D1 `identities` | strong: the primary key decides concurrent first sign-ins |
//! | federated sign-in attempt | D1 `federation_attempts` | strong: `DELETE … RETURNING` consumes a `state` once |
//! | device authorization (user code as a keyed hash) | D1 `device_authorizations` | strong: polls compare-and-swap on a version; an answer is one `UPDATE … WHERE status = 'pending'` |
//! | refresh token, revoked family | D1 `refresh_tokens`, `revoked_token_families` | strong: one `UPDATE … WHERE active = 1 AND` family not revoked wins a rotation |
//! | mailed challenge (link token and code, as hashes) | D1 `challenges` | strong: one row per key, so a new mail overwrites the old; a take is one `DELETE … WHERE key = ? AND token_hash = ? AND expires_at > ?`; a wrong code is one batch (`UPDATE … RETURNING failures`, then delete at the limit); sign-up completion and password set are one batch each, conditioned on the challenge |
//! | email change | D1 `users`, `challenges` | strong: one batch moves the user row's address only while the challenge is live and takes it only while the user exists; `UNIQUE(email_hash)` (and `UNIQUE(email)`) fails the whole batch if another account has the address |
//! | TOTP enrolment and factor | D1 `totp_enrolments`, `totp_factors` | strong: confirming is one batch whose first statement inserts the factor only while the enrolment is live under its secret and TOTP is off (else a NULL fails it and the batch); a time step is accepted by one `UPDATE … WHERE last_step IS NULL OR last_step < ?` |
//! | recovery codes | D1 `recovery_code_sets`, `recovery_codes` | strong: one row per unused code's hash, so a use is one `DELETE` that one of two racers changes |
//! | passkey | D1 `passkeys` | strong: the credential id is the primary key; registering is one batch (passkey, the user's count, first recovery codes); a use is compare-and-set on `sign_count` |
//! | factor summary | D1 `users.totp`, `users.passkeys` | strong: written in the same batch as every factor change |
//! | pending sign-in, WebAuthn challenge | D1 `pending_sign_ins`, `webauthn_challenges` | strong: a take is `DELETE … RETURNING`; a wrong factor is counted like a wrong mailed code |
//! | account deletion | D1, every table | strong: one batch deletes every row naming the user, its address or the address's hash (dependents first, the user row last), each statement conditioned on the user row still having that address |
//!
//! KV has no compare-and-set, so no decision rests on it alone: a session counts only if its
//! KV record is live, its token hash has no revocation row, and it carries the user's current
//! epoch (both read from D1 in one statement with every session read). A renewal racing a
//! sign-out may write the KV record back, but the revocation row still refuses it; "sign out
//! everywhere" cannot find a user's KV records, and needs not: the epoch refuses them all.
//!
//! Account deletion finds them through `user_sessions` and deletes them after the user (best
//! effort); a session stored before that index existed and never renewed since has no row,
//! and its record stays in KV until its TTL, which is the session's idle deadline
//! (`AUTHFN_SESSION_IDLE_SECS` from its last renewal, 30 minutes by default, never past its
//! absolute end; at least KV's 60 s floor). Until then it is unreadable: every session read
//! asks D1 for the user, and a session whose user is gone is refused. It holds the user's id
//! and no address.
//!
//! The schema is `infra/d1/*.sql`, applied by `wrangler d1 migrations apply`.
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, kv::KvStore};

use super::usage::UsageMeter;
use super::*;

mod lists;
mod rows;
mod store;

use rows::number;

/// A [`Store`] over Workers KV (sessions) and D1 (everything else; see the table above).
pub struct CloudflareStore {
    sessions: KvStore,
    db: D1Database,
    /// The configured absolute session lifetime: how long a revocation must be kept when
    /// the revoked session's own record cannot be read.
    max_session_lifetime: std::time::Duration,
    usage: UsageMeter,
}

impl CloudflareStore {
    /// A store over the Worker's KV namespace for sessions and its D1 database.
    pub fn new(
        sessions: KvStore,
        db: D1Database,
        max_session_lifetime: std::time::Duration,
    ) -> Self {
        CloudflareStore {
            sessions,
            db,
            max_session_lifetime,
            usage: UsageMeter::default(),
        }
    }

    /// Every statement made is run, once: it is counted here as a call of its own, and
    /// [`CloudflareStore::batch`] makes the statements it runs together one call.
    fn statement(&self, sql: &str, args: &[JsValue]) -> StoreResult<D1PreparedStatement> {
        let verb = sql.trim_start().get(..6).unwrap_or_default();
        let writes = ["INSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|w| verb.eq_ignore_ascii_case(w));
        self.usage.d1_call(1, u32::from(writes));
        self.db
            .prepare(sql)
            .bind(args)
            .map_err(|e| unavailable("bind", e))
    }

    /// Runs `statements` as one batch: one call to D1, one transaction.
    async fn batch(
        &self,
        statements: Vec<D1PreparedStatement>,
    ) -> worker::Result<Vec<worker::D1Result>> {
        let calls = u32::try_from(statements.len()).unwrap_or(u32::MAX);
        self.usage.batched(calls);
        self.db.batch(statements).await
    }

    /// The sessions namespace, for a read.
    fn kv_read(&self) -> &KvStore {
        self.usage.kv_read();
        &self.sessions
    }

    /// The sessions namespace, for a write or delete.
    fn kv_write(&self) -> &KvStore {
        self.usage.kv_write();
        &self.sessions
    }
}

/// KV and D1 errors can hold a `JsValue`, which is not `Send`, so the cause keeps their text.
fn unavailable(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(crate::error::context(what, e.to_string()))
}

/// Deletes counters, revocations and every other record past its expiry: D1 has no TTL. Run from a cron trigger.
pub async fn purge_expired(db: &D1Database, now: UnixTime) -> StoreResult<()> {
    let purge = |table: &str| {
        db.prepare(format!("DELETE FROM {table} WHERE expires_at <= ?1"))
            .bind(&[number(now.0)])
    };
    let statements = vec![
        purge("counters").map_err(|e| unavailable("bind", e))?,
        purge("revoked_sessions").map_err(|e| unavailable("bind", e))?,
        purge("federation_attempts").map_err(|e| unavailable("bind", e))?,
        purge("device_authorizations").map_err(|e| unavailable("bind", e))?,
        purge("refresh_tokens").map_err(|e| unavailable("bind", e))?,
        purge("revoked_token_families").map_err(|e| unavailable("bind", e))?,
        purge("challenges").map_err(|e| unavailable("bind", e))?,
        purge("totp_enrolments").map_err(|e| unavailable("bind", e))?,
        purge("pending_sign_ins").map_err(|e| unavailable("bind", e))?,
        purge("webauthn_challenges").map_err(|e| unavailable("bind", e))?,
        purge("activity").map_err(|e| unavailable("bind", e))?,
        // A session's index row lapses at whichever deadline comes first.
        db.prepare("DELETE FROM user_sessions WHERE expires_at <= ?1 OR idle_expires_at <= ?1")
            .bind(&[number(now.0)])
            .map_err(|e| unavailable("bind", e))?,
    ];
    db.batch(statements)
        .await
        .map_err(|e| unavailable("D1 purge", e))?;
    Ok(())
}
