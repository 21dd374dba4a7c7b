//! What a user lists of their own: its sessions, through the D1 `user_sessions` index (KV
//! cannot list a user's records), and its activity, in D1 `activity`.
//!
//! A `user_sessions` row is written with every session stored (in the same D1 write as the
//! user, for a first session) and moved by every renewal, so it carries everything the list
//! shows, and the list is one strongly consistent statement: no KV read per session. It counts
//! only as its session does: live by both deadlines, carrying the user's current epoch, and
//! not revoked. Ending one records its revocation as a sign-out does.

use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::rows::*;
use super::*;
use crate::events::{ActivityCursor, ActivityEntry};

/// The `user_sessions` columns, in [`SessionRow`]'s order and the binding order of
/// [`session_values`].
const SESSION_COLUMNS: &str = "token_hash, user_id, session_id, user_epoch, created_at, \
     authenticated_at, expires_at, idle_expires_at, renewed_at, device, network";

/// `?1`–`?11`: the session's row.
fn session_values(session: &SessionRecord) -> StoreResult<Vec<JsValue>> {
    Ok(vec![
        text(&session.token_hash.to_hex()),
        text(session.user_id.as_str()),
        text(session.id.as_str()),
        number(integer(session.user_epoch, "session user_epoch")?),
        number(session.created_at.0),
        number(session.authenticated_at.0),
        number(session.expires_at.0),
        number(session.idle_expires_at.0),
        number(session.renewed_at.0),
        optional_text(session.device.as_deref()),
        optional_text(session.network.as_deref()),
    ])
}

/// The condition, on `user_sessions` rows, that a row is user `?1`'s session with public id
/// `?2`, live at `?3` and not revoked.
const USERS_LIVE_SESSION: &str = "user_id = ?1 AND session_id = ?2 \
     AND idle_expires_at > ?3 AND expires_at > ?3 \
     AND NOT EXISTS (SELECT 1 FROM revoked_sessions r WHERE r.token_hash = user_sessions.token_hash AND r.expires_at > ?3)";

#[derive(Deserialize)]
struct SessionRow {
    token_hash: String,
    user_id: String,
    session_id: String,
    user_epoch: i64,
    created_at: i64,
    authenticated_at: i64,
    expires_at: i64,
    idle_expires_at: i64,
    renewed_at: i64,
    device: Option<String>,
    network: Option<String>,
}

impl SessionRow {
    fn into_record(self) -> StoreResult<SessionRecord> {
        Ok(SessionRecord {
            id: SessionId::from_stored(self.session_id),
            token_hash: TokenHash::from_hex(&self.token_hash)
                .ok_or_else(|| StoreError::Corrupt("user_sessions token_hash".into()))?,
            user_id: UserId::from_stored(self.user_id),
            user_epoch: unsigned(self.user_epoch, "user_sessions user_epoch")?,
            created_at: UnixTime(self.created_at),
            authenticated_at: UnixTime(self.authenticated_at),
            expires_at: UnixTime(self.expires_at),
            idle_expires_at: UnixTime(self.idle_expires_at),
            renewed_at: UnixTime(self.renewed_at),
            device: self.device,
            network: self.network,
        })
    }
}

#[derive(Deserialize)]
struct ActivityRow {
    id: String,
    time: i64,
    expires_at: i64,
    json: String,
}

#[derive(Deserialize)]
struct TokenHashRow {
    token_hash: String,
}

/// D1 binds at most 100 values per statement: 20 activity rows of 5.
const ACTIVITY_ROWS_PER_INSERT: usize = 20;

impl CloudflareStore {
    /// Indexes the session under its user, or moves its row's deadlines (a renewal). Only
    /// while the user exists and the session is not revoked: a renewal racing a sign-out or
    /// the account's deletion brings back no row.
    pub(super) fn index_session(
        &self,
        session: &SessionRecord,
    ) -> StoreResult<D1PreparedStatement> {
        self.statement(
            &format!(
                "INSERT INTO user_sessions ({SESSION_COLUMNS}) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
                 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2) \
                 AND NOT EXISTS (SELECT 1 FROM revoked_sessions WHERE token_hash = ?1) \
                 ON CONFLICT (token_hash) DO UPDATE SET \
                   idle_expires_at = excluded.idle_expires_at, renewed_at = excluded.renewed_at"
            ),
            &session_values(session)?,
        )
    }

    /// Indexes a new user's first session, in the batch that inserts the user: only if the
    /// user row is that user (same id, same address), so a refused insert indexes nothing.
    pub(super) fn index_first_session(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
    ) -> StoreResult<D1PreparedStatement> {
        let mut values = session_values(session)?;
        values.push(text(&user.email.hash().to_hex()));
        self.statement(
            &format!(
                "INSERT INTO user_sessions ({SESSION_COLUMNS}) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
                 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND email_hash = ?12)"
            ),
            &values,
        )
    }

    /// Removes the user's rows that no longer count (past a deadline at `now`, or from an
    /// older epoch): written beside each new session, so a user's rows stay few between the
    /// cron purges.
    pub(super) fn tidy_sessions_of(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<D1PreparedStatement> {
        self.statement(
            "DELETE FROM user_sessions WHERE user_id = ?1 AND (idle_expires_at <= ?2 OR expires_at <= ?2 \
             OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = ?1 AND u.session_epoch = user_sessions.user_epoch))",
            &[text(user_id.as_str()), number(now.0)],
        )
    }

    /// Stores a session: its KV record, and its index row with a tidy-up of the user's dead
    /// ones, at once. The caller hands out the token only if both land; if one fails, the
    /// other names a session nobody holds, which lapses.
    pub(super) async fn store_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let index = self.batch(vec![
            self.index_session(session)?,
            // The session was made at `renewed_at` (the caller's now).
            self.tidy_sessions_of(&session.user_id, session.renewed_at)?,
        ]);
        let (indexed, stored) =
            futures_util::future::join(index, self.put_session_record(session)).await;
        indexed.map_err(|e| unavailable("D1 index session", e))?;
        stored
    }

    /// Moves the session's deadlines: its KV record and its index row, at once. A session
    /// stored before the index existed gets its row here.
    pub(super) async fn store_renewal(&self, session: &SessionRecord) -> StoreResult<()> {
        let statement = self.index_session(session)?;
        let index = statement.run();
        let (indexed, stored) =
            futures_util::future::join(index, self.put_session_record(session)).await;
        indexed.map_err(|e| unavailable("D1 index session", e))?;
        stored
    }

    pub(super) async fn live_sessions_of(
        &self,
        user: &UserRecord,
        now: UnixTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        let epoch = integer(user.session_epoch, "user session_epoch")?;
        let rows: Vec<SessionRow> = self
            .statement(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM user_sessions \
                     WHERE user_id = ?1 AND user_epoch = ?2 AND idle_expires_at > ?3 AND expires_at > ?3 \
                     AND EXISTS (SELECT 1 FROM users u WHERE u.id = ?1 AND u.session_epoch = ?2) \
                     AND NOT EXISTS (SELECT 1 FROM revoked_sessions r WHERE r.token_hash = user_sessions.token_hash AND r.expires_at > ?3) \
                     ORDER BY created_at DESC, session_id DESC"
                ),
                &[text(user.id.as_str()), number(epoch), number(now.0)],
            )?
            .all()
            .await
            .map_err(|e| unavailable("D1 sessions of user", e))?
            .results()
            .map_err(|e| unavailable("D1 sessions of user", e))?;
        rows.into_iter().map(SessionRow::into_record).collect()
    }

    /// Ends the user's live session with public id `id`, in one batch (one transaction): reads
    /// its row, records the revocation (until its absolute end) and drops the row, so of two
    /// concurrent calls one finds it. Then deletes the KV record, as a sign-out does.
    pub(super) async fn end_session_of(
        &self,
        user_id: &UserId,
        id: &SessionId,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let values = [text(user_id.as_str()), text(id.as_str()), number(now.0)];
        let results = self.batch(vec![
                self.statement(
                    &format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE {USERS_LIVE_SESSION}"),
                    &values,
                )?,
                self.statement(
                    &format!(
                        "INSERT INTO revoked_sessions (token_hash, expires_at) \
                         SELECT token_hash, expires_at FROM user_sessions WHERE {USERS_LIVE_SESSION} \
                         ON CONFLICT (token_hash) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)"
                    ),
                    &values,
                )?,
                self.statement(
                    &format!("DELETE FROM user_sessions WHERE {USERS_LIVE_SESSION}"),
                    &values,
                )?,
                // Revocations whose sessions have expired anyway are clutter.
                self.statement(
                    "DELETE FROM revoked_sessions WHERE expires_at <= ?1",
                    &[number(now.0)],
                )?,
            ])
            .await
            .map_err(|e| unavailable("D1 revoke session", e))?;
        let found: Vec<SessionRow> = results
            .first()
            .ok_or_else(|| StoreError::Corrupt("revoke-session batch returned no result".into()))?
            .results()
            .map_err(|e| unavailable("D1 revoke session", e))?;
        let Some(row) = found.into_iter().next() else {
            return Ok(None);
        };
        let session = row.into_record()?;
        self.kv_write()
            .delete(&session_key(&session.token_hash))
            .await
            .map_err(|e| unavailable("KV delete", e))?;
        Ok(Some(session))
    }

    /// The statement, for the account-deletion batch, that drops the user's index rows
    /// (while `the_user`, its condition on `?1`–`?3`, holds) and returns their token hashes.
    pub(super) fn drop_sessions_of(
        &self,
        the_user: &str,
        values: &[JsValue],
    ) -> StoreResult<D1PreparedStatement> {
        self.statement(
            &format!(
                "DELETE FROM user_sessions WHERE user_id = ?1 \
                 AND EXISTS (SELECT 1 FROM users WHERE {the_user}) RETURNING token_hash"
            ),
            values,
        )
    }

    /// Deletes the KV records of a deleted user's sessions, as [`Self::drop_sessions_of`]
    /// returned them. Best effort: the user row is gone, so every one is refused already.
    pub(super) async fn forget_sessions(&self, dropped: &D1Result) {
        let Ok(rows) = dropped.results::<TokenHashRow>() else {
            return;
        };
        let deletes = rows
            .iter()
            .filter_map(|row| TokenHash::from_hex(&row.token_hash))
            .map(|hash| {
                let key = session_key(&hash);
                async move { self.kv_write().delete(&key).await }
            });
        let _ = futures_util::future::join_all(deletes).await;
    }

    pub(super) async fn put_activity(&self, entries: &[ActivityEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::new();
        for chunk in entries.chunks(ACTIVITY_ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * 5;
                    format!(
                        "(?{}, ?{}, ?{}, ?{}, ?{})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5
                    )
                })
                .collect();
            let values: Vec<JsValue> = chunk
                .iter()
                .flat_map(|e| {
                    [
                        text(e.user_id.as_str()),
                        number(e.time.0),
                        text(&e.id),
                        text(&e.json),
                        number(e.expires_at.0),
                    ]
                })
                .collect();
            // An entry delivered twice (same user, time and id) is kept once.
            batch.push(self.statement(
                &format!(
                    "INSERT INTO activity (user_id, time, id, json, expires_at) VALUES {} \
                     ON CONFLICT DO NOTHING",
                    rows.join(", ")
                ),
                &values,
            )?);
        }
        // Each user's lapsed entries go as new ones come: D1 has no TTL. An entry's time is
        // its writer's now.
        let mut tidied: Vec<&UserId> = Vec::new();
        for entry in entries {
            if !tidied.contains(&&entry.user_id) {
                tidied.push(&entry.user_id);
                batch.push(self.statement(
                    "DELETE FROM activity WHERE user_id = ?1 AND expires_at <= ?2",
                    &[text(entry.user_id.as_str()), number(entry.time.0)],
                )?);
            }
        }
        self.batch(batch)
            .await
            .map_err(|e| unavailable("D1 add activity", e))?;
        Ok(())
    }

    pub(super) async fn activity_page(
        &self,
        user_id: &UserId,
        after: Option<&ActivityCursor>,
        limit: usize,
        now: UnixTime,
    ) -> StoreResult<Vec<ActivityEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Far beyond any page; keeps the bound an exact integer in JavaScript.
        let limit = number(i64::try_from(limit).unwrap_or(i64::MAX).min(1 << 31));
        let mut values = vec![text(user_id.as_str()), number(now.0), limit];
        let after_cursor = match after {
            Some(cursor) => {
                values.extend([number(cursor.time.0), text(&cursor.id)]);
                "AND (time, id) < (?4, ?5)"
            }
            None => "",
        };
        let rows: Vec<ActivityRow> = self
            .statement(
                &format!(
                    "SELECT id, time, expires_at, json FROM activity \
                     WHERE user_id = ?1 AND expires_at > ?2 {after_cursor} \
                     ORDER BY time DESC, id DESC LIMIT ?3"
                ),
                &values,
            )?
            .all()
            .await
            .map_err(|e| unavailable("D1 activity", e))?
            .results()
            .map_err(|e| unavailable("D1 activity", e))?;
        Ok(rows
            .into_iter()
            .map(|row| ActivityEntry {
                user_id: user_id.clone(),
                id: row.id,
                time: UnixTime(row.time),
                expires_at: UnixTime(row.expires_at),
                json: row.json,
            })
            .collect())
    }
}
