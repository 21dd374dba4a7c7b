//! The [`Store`] trait over KV and D1.

use worker::D1Result;

use super::rows::*;
use super::*;

/// KV refuses an `expirationTtl` under 60 s; records live at least that long in KV, and reads
/// check the deadline they carry.
const KV_MIN_TTL_SECS: u64 = 60;

impl CloudflareStore {
    /// Writes the KV record, kept there until its deadline. The record's `renewed_at` is the
    /// caller's "now" (a session is written when it starts or is renewed), so the TTL follows
    /// the caller's clock, not this isolate's.
    pub(super) async fn put_session_record(&self, session: &SessionRecord) -> StoreResult<()> {
        let ttl = session
            .renewed_at
            .until(session.idle_expires_at.min(session.expires_at))
            .as_secs()
            .max(KV_MIN_TTL_SECS);
        let value = serde_json::to_string(&StoredSession::from_record(session))
            .expect("a session serialises");
        self.kv_write()
            .put_bytes(&session_key(&session.token_hash), value.as_bytes())
            .map_err(|e| unavailable("KV put", e))?
            .expiration_ttl(ttl)
            .execute()
            .await
            .map_err(|e| unavailable("KV put", e))
    }

    async fn stored_session(&self, token_hash: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        let stored = self
            .kv_read()
            .get(&session_key(token_hash))
            .text()
            .await
            .map_err(|e| unavailable("KV get", e))?;
        stored
            .map(|value| StoredSession::parse(&value, *token_hash))
            .transpose()
    }

    /// Whether D1 still accepts a session read from KV: no live revocation of its token, its
    /// user exists, and the user's epoch is the one it carries. One statement, so this costs
    /// the session read no more than the revocation check alone did. A deleted user's KV
    /// records cannot be found to delete them; this is what refuses them until they expire.
    async fn is_refused(&self, session: &SessionRecord, now: UnixTime) -> StoreResult<bool> {
        let check: Option<SessionCheck> = self
            .statement(
                "SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE token_hash = ?1 AND expires_at > ?2) AS revoked, \
                 (SELECT session_epoch FROM users WHERE id = ?3) AS user_epoch",
                &[text(&session.token_hash.to_hex()), number(now.0), text(session.user_id.as_str())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 session check", e))?;
        let check =
            check.ok_or_else(|| StoreError::Corrupt("session check returned no row".into()))?;
        Ok(check.revoked()? || check.user_epoch()? != Some(session.user_epoch))
    }

    /// Deletes the user and every D1 row naming it, its address or its address's hash, in one
    /// batch (one transaction), if the user row still has `user`'s address. Returns whether it
    /// did; `false` means nothing was written.
    ///
    /// Every statement is conditioned on that row, so a stale or repeated call deletes nothing
    /// (not even the counters and challenges of whoever holds the address now). The dependents
    /// go first and the user row last: were the batch ever split, an outage part-way would
    /// leave an account that can be deleted again, never rows naming a user who is gone.
    /// The KV records of the sessions its index names are deleted after (best effort); those
    /// stored before the index existed are left to their TTL (see the module doc);
    /// revocations in `revoked_sessions` hold only a token hash.
    async fn delete_user_as_read(&self, user: &UserRecord) -> StoreResult<bool> {
        let email = &user.email;
        // The row as read: its id and address (by hash, or by address for a row older than
        // migration 0006, as `user_by_email` finds it), bound as ?1–?3 in every statement.
        // D1 wants exactly as many values as a statement's highest parameter, so the keys
        // each statement needs follow from ?4.
        const THE_USER: &str =
            "(id = ?1 AND (email_hash = ?2 OR (email_hash IS NULL AND email = ?3)))";
        let the_user = [
            text(user.id.as_str()),
            text(&email.hash().to_hex()),
            text(email.as_str()),
        ];
        let delete = |sql: &str, keys: &[&str]| {
            let mut values = the_user.to_vec();
            values.extend(keys.iter().map(|key| text(key)));
            self.statement(
                &format!("{sql} AND EXISTS (SELECT 1 FROM users WHERE {THE_USER})"),
                &values,
            )
        };
        let challenges = [
            ChallengeKey::sign_up(email),
            ChallengeKey::password_reset(email),
            ChallengeKey::sign_in_code(email),
            ChallengeKey::email_change(&user.id),
        ];
        let counters = [
            CounterKey::sign_in_attempts(email),
            CounterKey::mail_to(email),
        ];
        let challenge_keys = challenges.each_ref().map(ChallengeKey::as_str);
        let counter_keys = counters.each_ref().map(CounterKey::as_str);
        // Every other row of the user's, table by table, with the keys each binds from ?4.
        let deletes: [(&str, &[&str]); 14] = [
            ("DELETE FROM activity WHERE user_id = ?1", &[]),
            ("DELETE FROM identities WHERE user_id = ?1", &[]),
            // Before the tokens: their family ids are how a revocation is found.
            (
                "DELETE FROM revoked_token_families \
                 WHERE family_id IN (SELECT family_id FROM refresh_tokens WHERE user_id = ?1)",
                &[],
            ),
            ("DELETE FROM refresh_tokens WHERE user_id = ?1", &[]),
            // Approved (or consumed) by the user: the device gets nothing for a user who is gone.
            ("DELETE FROM device_authorizations WHERE user_id = ?1", &[]),
            // Under its address or its id, or acting on it wherever keyed.
            (
                "DELETE FROM challenges WHERE (key IN (?4, ?5, ?6, ?7) OR user_id = ?1)",
                &challenge_keys,
            ),
            ("DELETE FROM counters WHERE key IN (?4, ?5)", &counter_keys),
            // Its factors, passkeys (their credential ids with them), pending sign-ins and
            // passkey registrations in flight.
            ("DELETE FROM totp_enrolments WHERE user_id = ?1", &[]),
            ("DELETE FROM totp_factors WHERE user_id = ?1", &[]),
            ("DELETE FROM recovery_codes WHERE user_id = ?1", &[]),
            ("DELETE FROM recovery_code_sets WHERE user_id = ?1", &[]),
            ("DELETE FROM passkeys WHERE user_id = ?1", &[]),
            ("DELETE FROM pending_sign_ins WHERE user_id = ?1", &[]),
            ("DELETE FROM webauthn_challenges WHERE user_id = ?1", &[]),
        ];
        // First, so its answer (the token hashes of the user's indexed sessions) is at 0;
        // the user's own row last.
        let mut batch = vec![self.drop_sessions_of(THE_USER, &the_user)?];
        for (sql, keys) in deletes {
            batch.push(delete(sql, keys)?);
        }
        batch.push(self.statement(&format!("DELETE FROM users WHERE {THE_USER}"), &the_user)?);
        let results = self
            .batch(batch)
            .await
            .map_err(|e| unavailable("D1 delete user", e))?;
        let (Some(sessions), Some(deleted)) = (results.first(), results.last()) else {
            return Err(StoreError::Corrupt(
                "delete-user batch returned no result".into(),
            ));
        };
        if !changed_one(deleted, "D1 delete user")? {
            return Ok(false);
        }
        self.forget_sessions(sessions).await;
        Ok(true)
    }
}

impl CloudflareStore {
    /// The statements that replace the user's recovery codes with `codes`, for a batch.
    fn replace_codes(&self, codes: &RecoveryCodes) -> StoreResult<Vec<D1PreparedStatement>> {
        let user_id = text(codes.user_id.as_str());
        let mut statements = vec![
            self.statement(
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                std::slice::from_ref(&user_id),
            )?,
            self.statement(
                "INSERT INTO recovery_code_sets (user_id, created_at) VALUES (?1, ?2) \
                 ON CONFLICT (user_id) DO UPDATE SET created_at = excluded.created_at",
                &[user_id.clone(), number(codes.created_at.0)],
            )?,
        ];
        if !codes.code_hashes.is_empty() {
            let rows: Vec<String> = (0..codes.code_hashes.len())
                .map(|i| format!("(?1, ?{})", i + 2))
                .collect();
            let mut values = vec![user_id];
            values.extend(codes.code_hashes.iter().map(|h| text(&h.to_hex())));
            statements.push(self.statement(
                &format!(
                    "INSERT INTO recovery_codes (user_id, code_hash) VALUES {}",
                    rows.join(", ")
                ),
                &values,
            )?);
        }
        Ok(statements)
    }
}

/// Whether a write changed exactly one row: how D1 reports which of two racing writers won.
/// A result without a change count is an error, not a loss.
fn changed_one(result: &D1Result, what: &'static str) -> StoreResult<bool> {
    match result
        .meta()
        .map_err(|e| unavailable(what, e))?
        .and_then(|m| m.changes)
    {
        Some(changes) => Ok(changes == 1),
        None => Err(StoreError::Unavailable(
            format!("{what}: D1 reported no change count").into(),
        )),
    }
}

#[async_trait::async_trait(?Send)]
impl Store for CloudflareStore {
    async fn create_user(
        &self,
        user: &UserRecord,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        let session_epoch = integer(user.session_epoch, "user session_epoch")?;
        // The session goes first: until the user row exists it names no one and counts for
        // nothing, so a failure between the two writes leaves nothing anyone can use.
        self.put_session_record(first_session).await?;
        let results = self.batch(vec![
                self.statement(
                    "INSERT INTO users (id, email_hash, email, password_hash, created_at, session_epoch, email_verified) \
                     VALUES (?1, ?6, ?2, ?3, ?4, ?5, ?7) ON CONFLICT DO NOTHING",
                    &[
                        text(user.id.as_str()),
                        text(user.email.as_str()),
                        optional_text(user.password_hash.as_ref().map(PasswordHashString::as_str)),
                        number(user.created_at.0),
                        number(session_epoch),
                        text(&user.email.hash().to_hex()),
                        number(i64::from(user.email_verified)),
                    ],
                )?,
                // In the same transaction, and only if the insert made this user.
                self.index_first_session(user, first_session)?,
            ])
            .await
            .map_err(|e| unavailable("D1 insert user", e))?;
        let result = results
            .first()
            .ok_or_else(|| StoreError::Corrupt("insert-user batch returned no result".into()))?;
        let inserted = changed_one(result, "D1 insert user")?;
        if inserted {
            return Ok(Insert::Inserted);
        }
        // Best effort: the orphan names a user id that does not exist, and expires anyway.
        let _ = self
            .kv_write()
            .delete(&session_key(&first_session.token_hash))
            .await;
        Ok(Insert::AlreadyExists)
    }

    async fn create_federated_user(
        &self,
        user: &UserRecord,
        identity: &FederatedIdentity,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        let session_epoch = integer(user.session_epoch, "user session_epoch")?;
        self.put_session_record(first_session).await?;
        // A batch is one transaction: a UNIQUE violation on either row rolls back both.
        let batch = vec![
            self.statement(
                "INSERT INTO users (id, email_hash, email, password_hash, created_at, session_epoch, email_verified) \
                 VALUES (?1, ?5, ?2, NULL, ?3, ?4, ?6)",
                &[
                    text(user.id.as_str()),
                    text(user.email.as_str()),
                    number(user.created_at.0),
                    number(session_epoch),
                    text(&user.email.hash().to_hex()),
                    number(i64::from(user.email_verified)),
                ],
            )?,
            self.statement(
                "INSERT INTO identities (key, issuer, subject, user_id) VALUES (?1, ?2, ?3, ?4)",
                &[text(&identity.key().to_hex()), text(&identity.issuer), text(&identity.subject), text(user.id.as_str())],
            )?,
            self.index_first_session(user, first_session)?,
        ];
        match self.batch(batch).await {
            Ok(_) => Ok(Insert::Inserted),
            Err(e) if e.to_string().contains("UNIQUE constraint failed") => {
                let _ = self
                    .kv_write()
                    .delete(&session_key(&first_session.token_hash))
                    .await;
                Ok(Insert::AlreadyExists)
            }
            Err(e) => Err(unavailable("D1 insert federated user", e)),
        }
    }

    async fn user_by_identity(
        &self,
        identity: &FederatedIdentity,
    ) -> StoreResult<Option<UserRecord>> {
        let row: Option<UserRow> = self
            .statement(
                "SELECT u.id, u.email, u.password_hash, u.created_at, u.session_epoch, u.email_verified, u.totp, u.passkeys \
                 FROM identities i JOIN users u ON u.id = i.user_id WHERE i.key = ?1",
                &[text(&identity.key().to_hex())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 user by identity", e))?;
        row.map(UserRow::into_record).transpose()
    }

    async fn link_identity(
        &self,
        identity: &FederatedIdentity,
        user_id: &UserId,
    ) -> StoreResult<Insert> {
        let result = self
            .statement(
                "INSERT INTO identities (key, issuer, subject, user_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING",
                &[text(&identity.key().to_hex()), text(&identity.issuer), text(&identity.subject), text(user_id.as_str())],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 link identity", e))?;
        let inserted = changed_one(&result, "D1 link identity")?;
        Ok(if inserted {
            Insert::Inserted
        } else {
            Insert::AlreadyExists
        })
    }

    async fn put_federation_attempt(&self, attempt: &FederationAttempt) -> StoreResult<()> {
        // The `state_hash` column holds the attempt key (state and binding together).
        self.statement(
            "INSERT INTO federation_attempts (state_hash, binding_hash, provider, return_to, wants_json, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                text(&attempt.key.to_hex()),
                text(&attempt.binding_hash.to_hex()),
                text(&attempt.provider),
                text(&attempt.return_to),
                number(i64::from(attempt.wants_json)),
                number(attempt.expires_at.0),
            ],
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put federation attempt", e))?;
        Ok(())
    }

    async fn take_federation_attempt(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<FederationAttempt>> {
        let row: Option<AttemptRow> = self
            .statement(
                "DELETE FROM federation_attempts WHERE state_hash = ?1 \
                 RETURNING binding_hash, provider, return_to, wants_json, expires_at",
                &[text(&key.to_hex())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 take federation attempt", e))?;
        let Some(row) = row else { return Ok(None) };
        let attempt = row.into_attempt(*key)?;
        Ok(is_live(attempt.expires_at, now).then_some(attempt))
    }

    async fn create_device_authorization(
        &self,
        auth: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<Insert> {
        // One statement: the user-code check and the insert cannot interleave with another.
        let mut values = device_values(auth)?;
        values.push(number(now.0));
        let result = self
            .statement(
                &format!(
                    "INSERT INTO device_authorizations ({DEVICE_COLUMNS}) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 \
                     WHERE NOT EXISTS (SELECT 1 FROM device_authorizations WHERE user_code_hash = ?2 AND expires_at > ?14) \
                     ON CONFLICT (device_code_hash) DO NOTHING"
                ),
                &values,
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 insert device authorization", e))?;
        let inserted = changed_one(&result, "D1 insert device authorization")?;
        Ok(if inserted {
            Insert::Inserted
        } else {
            Insert::AlreadyExists
        })
    }

    async fn device_authorization(
        &self,
        device_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let row: Option<DeviceRow> = self
            .statement(
                &format!("SELECT {DEVICE_COLUMNS} FROM device_authorizations WHERE device_code_hash = ?1 AND expires_at > ?2"),
                &[text(&device_code_hash.to_hex()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 device authorization", e))?;
        row.map(DeviceRow::into_record).transpose()
    }

    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let row: Option<DeviceRow> = self
            .statement(
                &format!("SELECT {DEVICE_COLUMNS} FROM device_authorizations WHERE user_code_hash = ?1 AND expires_at > ?2"),
                &[text(&user_code_hash.to_hex()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 device authorization by user code", e))?;
        row.map(DeviceRow::into_record).transpose()
    }

    async fn update_device_authorization(&self, auth: &DeviceAuthorization) -> StoreResult<bool> {
        let mut values = device_values(auth)?;
        values.push(number(
            integer(auth.version, "device authorization version")? - 1,
        ));
        let result = self
            .statement(
                "UPDATE device_authorizations SET user_code_hash = ?2, client_id = ?3, scope = ?4, status = ?5, user_id = ?6, \
                 interval_secs = ?7, last_polled_at = ?8, version = ?9, expires_at = ?10, user_epoch = ?11, \
                 created_at = ?12, requested_from = ?13 \
                 WHERE device_code_hash = ?1 AND version = ?14",
                &values,
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 update device authorization", e))?;
        changed_one(&result, "D1 update device authorization")
    }

    async fn decide_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        decision: &DeviceStatus,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // Conditioned on the status, not the version: polls bump the version but never the
        // status, so they cannot make the user's answer fail.
        let [status, user_id, user_epoch] = device_status(decision)?;
        let result = self
            .statement(
                "UPDATE device_authorizations SET status = ?2, user_id = ?3, user_epoch = ?4, version = version + 1 \
                 WHERE device_code_hash = ?1 AND status = ?6 AND expires_at > ?5",
                &[
                    text(&device_code_hash.to_hex()),
                    status,
                    user_id,
                    user_epoch,
                    number(now.0),
                    text(DeviceStatus::STORED_PENDING),
                ],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 decide device authorization", e))?;
        changed_one(&result, "D1 decide device authorization")
    }

    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        self.statement(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, active, family_expires_at, expires_at, user_epoch) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &[
                text(&token.token_hash.to_hex()),
                text(&token.family_id),
                text(token.user_id.as_str()),
                text(token.client_id.as_str()),
                text(token.scope.as_str()),
                number(i64::from(token.active)),
                number(token.family_expires_at.0),
                number(token.expires_at.0),
                number(integer(token.user_epoch, "refresh token user_epoch")?),
            ],
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put refresh token", e))?;
        Ok(())
    }

    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let row: Option<RefreshRow> = self
            .statement(
                "SELECT family_id, user_id, client_id, scope, user_epoch, active, family_expires_at, expires_at \
                 FROM refresh_tokens WHERE token_hash = ?1 AND expires_at > ?2",
                &[text(&token_hash.to_hex()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 refresh token", e))?;
        row.map(|r| r.into_record(*token_hash)).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshTokenRecord,
    ) -> StoreResult<Rotation> {
        // The conditional update decides the one winner, and refuses a revoked family in the
        // same statement. If the insert after it failed, the family would just have no live
        // token (the client signs in again): never two.
        let result = self
            .statement(
                "UPDATE refresh_tokens SET active = 0 WHERE token_hash = ?1 AND active = 1 \
                 AND NOT EXISTS (SELECT 1 FROM revoked_token_families WHERE family_id = refresh_tokens.family_id)",
                &[text(&old.to_hex())],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 rotate refresh token", e))?;
        if !changed_one(&result, "D1 rotate refresh token")? {
            return Ok(Rotation::AlreadyUsed);
        }
        self.put_refresh_token(new).await?;
        Ok(Rotation::Rotated)
    }

    async fn revoke_token_family(&self, family_id: &str, until: UnixTime) -> StoreResult<()> {
        self.statement(
            "INSERT INTO revoked_token_families (family_id, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (family_id) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
            &[text(family_id), number(until.0)],
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 revoke token family", e))?;
        Ok(())
    }

    async fn is_token_family_revoked(&self, family_id: &str, now: UnixTime) -> StoreResult<bool> {
        let row: Option<i64> = self
            .statement(
                "SELECT 1 AS revoked FROM revoked_token_families WHERE family_id = ?1 AND expires_at > ?2",
                &[text(family_id), number(now.0)],
            )?
            .first(Some("revoked"))
            .await
            .map_err(|e| unavailable("D1 revoked token families", e))?;
        Ok(row.is_some())
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        let row: Option<UserRow> = self
            .statement(
                // Rows written before migration 0005 have no hash yet (see that file).
                "SELECT id, email, password_hash, created_at, session_epoch, email_verified, totp, passkeys FROM users \
                 WHERE email_hash = ?1 OR (email_hash IS NULL AND email = ?2)",
                &[text(&email.hash().to_hex()), text(email.as_str())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 user by email", e))?;
        row.map(UserRow::into_record).transpose()
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let row: Option<UserRow> = self
            .statement(
                "SELECT id, email, password_hash, created_at, session_epoch, email_verified, totp, passkeys FROM users WHERE id = ?1",
                &[text(id.as_str())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 user by id", e))?;
        row.map(UserRow::into_record).transpose()
    }

    async fn put_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.store_session(session).await
    }

    async fn session(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let Some(session) = self.stored_session(token_hash).await? else {
            return Ok(None);
        };
        if !is_live(session.idle_expires_at, now) || !is_live(session.expires_at, now) {
            return Ok(None);
        }
        if self.is_refused(&session, now).await? {
            return Ok(None);
        }
        Ok(Some(session))
    }

    fn usage(&self) -> Option<&UsageMeter> {
        Some(&self.usage)
    }

    async fn session_and_user(
        &self,
        token_hash: &TokenHash,
        user: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        // The presented value names the user, so the D1 half (the user row and the revocation
        // check, one statement) need not wait for the KV read: one round trip's time for both.
        let check = async {
            self.statement(
                "SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE token_hash = ?1 AND expires_at > ?2) AS revoked, \
                 id, email, password_hash, created_at, session_epoch, email_verified, totp, passkeys FROM users WHERE id = ?3",
                &[text(&token_hash.to_hex()), number(now.0), text(user.as_str())],
            )?
            .first::<CheckedUserRow>(None)
            .await
            .map_err(|e| unavailable("D1 session check", e))
        };
        let (stored, checked) =
            futures_util::future::join(self.stored_session(token_hash), check).await;
        let (Some(session), Some(checked)) = (stored?, checked?) else {
            return Ok(None);
        };
        let (revoked, user_record) = checked.into_parts()?;
        let live = is_live(session.idle_expires_at, now) && is_live(session.expires_at, now);
        let refused =
            revoked || session.user_id != *user || session.user_epoch != user_record.session_epoch;
        Ok((live && !refused).then_some((session, user_record)))
    }

    async fn renew_session(
        &self,
        token_hash: &TokenHash,
        renewed_at: UnixTime,
        idle_expires_at: UnixTime,
    ) -> StoreResult<()> {
        // Read-modify-write on KV is not atomic; a sign-out racing this may see its record
        // written back, which the revocation row keeps refused.
        let Some(mut session) = self.stored_session(token_hash).await? else {
            return Ok(());
        };
        session.renewed_at = renewed_at;
        session.idle_expires_at = idle_expires_at;
        self.store_renewal(&session).await
    }

    async fn delete_session(&self, token_hash: &TokenHash, now: UnixTime) -> StoreResult<()> {
        // The revocation row must outlive every copy of the record: its absolute expiry if
        // this location can read it, else the configured absolute lifetime from now.
        let until = match self.stored_session(token_hash).await? {
            Some(session) => session.expires_at,
            None => now.plus(self.max_session_lifetime),
        };
        self.batch(vec![
                self.statement(
                    "INSERT INTO revoked_sessions (token_hash, expires_at) VALUES (?1, ?2) \
                     ON CONFLICT (token_hash) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
                    &[text(&token_hash.to_hex()), number(until.0)],
                )?,
                self.statement("DELETE FROM user_sessions WHERE token_hash = ?1", &[text(&token_hash.to_hex())])?,
                // Revocations whose sessions have expired anyway are clutter.
                self.statement("DELETE FROM revoked_sessions WHERE expires_at <= ?1", &[number(now.0)])?,
            ])
            .await
            .map_err(|e| unavailable("D1 revoke session", e))?;
        self.kv_write()
            .delete(&session_key(token_hash))
            .await
            .map_err(|e| unavailable("KV delete", e))
    }

    async fn revoke_all_sessions(&self, user_id: &UserId) -> StoreResult<()> {
        // The epoch decides; the KV records it orphans expire on their own TTL.
        self.statement(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?1",
            &[text(user_id.as_str())],
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 bump epoch", e))?;
        Ok(())
    }

    async fn increment(
        &self,
        key: &CounterKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<Counter> {
        let row: Option<CounterRow> = self
            .statement(
                "INSERT INTO counters (key, count, expires_at) VALUES (?1, 1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET \
                   count = CASE WHEN counters.expires_at <= ?3 THEN 1 ELSE counters.count + 1 END, \
                   expires_at = CASE WHEN counters.expires_at <= ?3 THEN excluded.expires_at ELSE counters.expires_at END \
                 RETURNING count, expires_at",
                &[text(key.as_str()), number(expires_at.0), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 increment", e))?;
        row.map(CounterRow::into_counter)
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt("increment returned no row".into()))
    }

    async fn counter(&self, key: &CounterKey, now: UnixTime) -> StoreResult<Option<Counter>> {
        let row: Option<CounterRow> = self
            .statement(
                "SELECT count, expires_at FROM counters WHERE key = ?1 AND expires_at > ?2",
                &[text(key.as_str()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 counter", e))?;
        row.map(CounterRow::into_counter).transpose()
    }

    async fn put_counter(&self, key: &CounterKey, counter: Counter) -> StoreResult<()> {
        self.statement(
            "INSERT INTO counters (key, count, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET count = excluded.count, expires_at = excluded.expires_at",
            &[text(key.as_str()), number(integer(counter.count, "counter count")?), number(counter.expires_at.0)],
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put counter", e))?;
        Ok(())
    }

    async fn delete_counter(&self, key: &CounterKey) -> StoreResult<()> {
        self.statement("DELETE FROM counters WHERE key = ?1", &[text(key.as_str())])?
            .run()
            .await
            .map_err(|e| unavailable("D1 delete counter", e))?;
        Ok(())
    }

    async fn put_challenge(&self, challenge: &EmailChallenge) -> StoreResult<()> {
        // One row per key: the upsert replaces the row, so the old token hash (and code) is
        // gone in the same write that stores the new one.
        self.statement(
            &format!(
                "INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (key) DO UPDATE SET email = excluded.email, token_hash = excluded.token_hash, \
                   code_hash = excluded.code_hash, failures = excluded.failures, action = excluded.action, \
                   user_id = excluded.user_id, password_hash = excluded.password_hash, \
                   created_at = excluded.created_at, expires_at = excluded.expires_at"
            ),
            &challenge_values(challenge),
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put challenge", e))?;
        Ok(())
    }

    async fn challenge(
        &self,
        key: &ChallengeKey,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>> {
        let row: Option<ChallengeRow> = self
            .statement(
                &format!(
                    "SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE key = ?1 AND expires_at > ?2"
                ),
                &[text(key.as_str()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 challenge", e))?;
        row.map(ChallengeRow::into_challenge).transpose()
    }

    async fn challenge_by_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>> {
        // A row is always the one live under its key (a replacement overwrites it), so any
        // row with this token hash is the current challenge. D1 reads go to its primary.
        let row: Option<ChallengeRow> = self
            .statement(
                &format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE token_hash = ?1 AND expires_at > ?2"),
                &[text(&token_hash.to_hex()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 challenge by token", e))?;
        row.map(ChallengeRow::into_challenge).transpose()
    }

    async fn count_challenge_failure(
        &self,
        proof: &ChallengeProof,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        // One batch, so one transaction: each wrong code adds one and reads the sum in one
        // statement, and the one that reaches the limit deletes the row before any other
        // counts. Later ones find no row.
        let results = self
            .batch(vec![
                self.statement(
                    "UPDATE challenges SET failures = failures + 1 \
                     WHERE key = ?1 AND token_hash = ?2 AND expires_at > ?3 RETURNING failures",
                    &[
                        text(proof.key.as_str()),
                        text(&proof.token_hash.to_hex()),
                        number(now.0),
                    ],
                )?,
                self.statement(
                    "DELETE FROM challenges WHERE key = ?1 AND token_hash = ?2 AND failures >= ?3",
                    &[
                        text(proof.key.as_str()),
                        text(&proof.token_hash.to_hex()),
                        number(i64::from(max_failures)),
                    ],
                )?,
            ])
            .await
            .map_err(|e| unavailable("D1 count challenge failure", e))?;
        let counted: Vec<FailuresRow> = results
            .first()
            .ok_or_else(|| {
                StoreError::Corrupt("challenge failure count returned no result".into())
            })?
            .results()
            .map_err(|e| unavailable("D1 count challenge failure", e))?;
        counted.first().map(FailuresRow::failures).transpose()
    }

    async fn take_challenge(&self, proof: &ChallengeProof, now: UnixTime) -> StoreResult<bool> {
        // One conditional delete: of two takers, the second finds no row.
        let result = self
            .statement(
                "DELETE FROM challenges WHERE key = ?1 AND token_hash = ?2 AND expires_at > ?3",
                &[
                    text(proof.key.as_str()),
                    text(&proof.token_hash.to_hex()),
                    number(now.0),
                ],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 take challenge", e))?;
        changed_one(&result, "D1 take challenge")
    }

    async fn complete_sign_up(
        &self,
        proof: &ChallengeProof,
        user: &UserRecord,
        first_session: &SessionRecord,
        now: UnixTime,
    ) -> StoreResult<SignUpOutcome> {
        let session_epoch = integer(user.session_epoch, "user session_epoch")?;
        let challenge = [
            text(proof.key.as_str()),
            text(&proof.token_hash.to_hex()),
            number(now.0),
        ];
        // As in `create_user`: the session first, naming no one until the user row exists.
        self.put_session_record(first_session).await?;
        // One batch, so one transaction. The user is inserted only while the challenge is
        // live, and the delete that takes it runs in the same transaction, so both happen or
        // neither. A taken address or id fails the insert's UNIQUE constraint, which rolls
        // back the whole batch: nothing is written and the challenge stays.
        let mut insert_user = vec![
            text(user.id.as_str()),
            text(&user.email.hash().to_hex()),
            text(user.email.as_str()),
            optional_text(user.password_hash.as_ref().map(PasswordHashString::as_str)),
            number(user.created_at.0),
            number(session_epoch),
            number(i64::from(user.email_verified)),
        ];
        insert_user.extend(challenge.iter().cloned());
        let batch = vec![
            self.statement(
                "INSERT INTO users (id, email_hash, email, password_hash, created_at, session_epoch, email_verified) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 \
                 WHERE EXISTS (SELECT 1 FROM challenges WHERE key = ?8 AND token_hash = ?9 AND expires_at > ?10)",
                &insert_user,
            )?,
            self.statement("DELETE FROM challenges WHERE key = ?1 AND token_hash = ?2 AND expires_at > ?3", &challenge)?,
            self.index_first_session(user, first_session)?,
        ];
        let outcome = match self.batch(batch).await {
            Ok(results) => {
                let [inserted, taken, _indexed] = results.as_slice() else {
                    return Err(StoreError::Corrupt(
                        "sign-up batch did not answer for each statement".into(),
                    ));
                };
                match (
                    changed_one(inserted, "D1 complete sign-up")?,
                    changed_one(taken, "D1 complete sign-up")?,
                ) {
                    (true, true) => return Ok(SignUpOutcome::Created),
                    (false, false) => SignUpOutcome::ChallengeGone,
                    // One transaction saw the challenge live for one statement and not the other.
                    _ => {
                        return Err(StoreError::Corrupt(
                            "sign-up batch inserted and took inconsistently".into(),
                        ));
                    }
                }
            }
            Err(e) if e.to_string().contains("UNIQUE constraint failed: users.") => {
                SignUpOutcome::EmailTaken
            }
            Err(e) => return Err(unavailable("D1 complete sign-up", e)),
        };
        // Best effort: the orphan names a user this call did not create, and expires anyway.
        let _ = self
            .kv_write()
            .delete(&session_key(&first_session.token_hash))
            .await;
        Ok(outcome)
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &PasswordHashString,
        proof: Option<&ChallengeProof>,
        now: UnixTime,
    ) -> StoreResult<Option<u64>> {
        // The epoch bump ends every session (KV records carry the old epoch) and refresh
        // family; the KV records it orphans expire on their own TTL.
        let Some(proof) = proof else {
            let row: Option<EpochRow> = self
                .statement(
                    "UPDATE users SET password_hash = ?2, session_epoch = session_epoch + 1 WHERE id = ?1 \
                     RETURNING session_epoch",
                    &[text(user_id.as_str()), text(password_hash.as_str())],
                )?
                .first(None)
                .await
                .map_err(|e| unavailable("D1 set password", e))?;
            return row.as_ref().map(EpochRow::epoch).transpose();
        };
        // One batch, so one transaction: the update happens only while the challenge is live,
        // and the delete that takes it only while the user exists, so both or neither.
        let values = [
            text(user_id.as_str()),
            text(password_hash.as_str()),
            text(proof.key.as_str()),
            text(&proof.token_hash.to_hex()),
            number(now.0),
        ];
        let results = self.batch(vec![
                self.statement(
                    "UPDATE users SET password_hash = ?2, session_epoch = session_epoch + 1, email_verified = 1 \
                     WHERE id = ?1 AND EXISTS (SELECT 1 FROM challenges WHERE key = ?3 AND token_hash = ?4 AND expires_at > ?5) \
                     RETURNING session_epoch",
                    &values,
                )?,
                self.statement(
                    "DELETE FROM challenges WHERE key = ?3 AND token_hash = ?4 AND expires_at > ?5 \
                     AND EXISTS (SELECT 1 FROM users WHERE id = ?1)",
                    &values,
                )?,
            ])
            .await
            .map_err(|e| unavailable("D1 set password", e))?;
        let [updated, taken] = results.as_slice() else {
            return Err(StoreError::Corrupt(
                "set-password batch did not answer for each statement".into(),
            ));
        };
        let epochs: Vec<EpochRow> = updated
            .results()
            .map_err(|e| unavailable("D1 set password", e))?;
        match (epochs.first(), changed_one(taken, "D1 set password")?) {
            (Some(row), true) => row.epoch().map(Some),
            (None, false) => Ok(None),
            _ => Err(StoreError::Corrupt(
                "set-password batch updated and took inconsistently".into(),
            )),
        }
    }

    async fn change_email(
        &self,
        proof: &ChallengeProof,
        user_id: &UserId,
        new_email: &Email,
        now: UnixTime,
    ) -> StoreResult<EmailChange> {
        // One batch, so one transaction: the user moves only while the challenge is live, and
        // the delete that takes it only while the user exists, so both or neither. The
        // address claim is the user row itself (`UNIQUE` on `email_hash`, and on `email` for
        // rows older than migration 0006): moving onto an address another row holds fails
        // the update, which rolls back the whole batch, so nothing is written and the
        // challenge stays. Of two users racing onto one free address, D1's single writer
        // commits one transaction first; the other's update then meets the constraint.
        let values = [
            text(user_id.as_str()),
            text(&new_email.hash().to_hex()),
            text(new_email.as_str()),
            text(proof.key.as_str()),
            text(&proof.token_hash.to_hex()),
            number(now.0),
        ];
        const LIVE: &str = "EXISTS (SELECT 1 FROM challenges WHERE key = ?4 AND token_hash = ?5 AND expires_at > ?6)";
        let batch = vec![
            // The user's own address is taken too (by the user), but an update onto the values
            // a row already has meets no constraint. A copy of the row, inserted exactly when
            // the user already has the address, fails its primary key instead, and so the
            // batch, as a move onto another account's address does. `email` always holds the
            // normalised address, so it alone says whose it is.
            self.statement(
                &format!(
                    "INSERT INTO users (id, email, created_at) SELECT id, email, created_at FROM users \
                     WHERE id = ?1 AND email = ?3 AND {LIVE}"
                ),
                &values,
            )?,
            self.statement(
                &format!("UPDATE users SET email_hash = ?2, email = ?3, email_verified = 1 WHERE id = ?1 AND {LIVE}"),
                &values,
            )?,
            self.statement(
                "DELETE FROM challenges WHERE key = ?4 AND token_hash = ?5 AND expires_at > ?6 \
                 AND EXISTS (SELECT 1 FROM users WHERE id = ?1)",
                &values,
            )?,
        ];
        match self.batch(batch).await {
            Ok(results) => {
                let [_, moved, taken] = results.as_slice() else {
                    return Err(StoreError::Corrupt(
                        "email-change batch did not answer for each statement".into(),
                    ));
                };
                match (
                    changed_one(moved, "D1 change email")?,
                    changed_one(taken, "D1 change email")?,
                ) {
                    (true, true) => Ok(EmailChange::Changed),
                    (false, false) => Ok(EmailChange::ChallengeGone),
                    // One transaction saw the challenge and the user for one statement and not the other.
                    _ => Err(StoreError::Corrupt(
                        "email-change batch moved and took inconsistently".into(),
                    )),
                }
            }
            Err(e) if e.to_string().contains("UNIQUE constraint failed: users.") => {
                Ok(EmailChange::EmailTaken)
            }
            Err(e) => Err(unavailable("D1 change email", e)),
        }
    }

    async fn delete_user(&self, user: &UserRecord) -> StoreResult<bool> {
        // The caller read `user` before asking; if its address changed since, the rows keyed
        // by the address are under the new one. Each round deletes only while the row still
        // has the address it was given, and a round that finds it changed reads it again.
        let mut user = std::borrow::Cow::Borrowed(user);
        for _ in 0..3 {
            if self.delete_user_as_read(&user).await? {
                return Ok(true);
            }
            match self.user_by_id(&user.id).await? {
                None => return Ok(false),
                Some(current) => user = std::borrow::Cow::Owned(current),
            }
        }
        Err(StoreError::Unavailable(
            "D1 delete user: the account's address kept changing".into(),
        ))
    }

    async fn mark_email_verified(&self, user_id: &UserId, email: &Email) -> StoreResult<bool> {
        // Only while the user exists and still has the address the mail went to.
        let result = self
            .statement(
                "UPDATE users SET email_verified = 1 WHERE id = ?1 AND email = ?2",
                &[text(user_id.as_str()), text(email.as_str())],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 mark email verified", e))?;
        changed_one(&result, "D1 mark email verified")
    }

    async fn put_totp_enrolment(&self, enrolment: &TotpEnrolment) -> StoreResult<()> {
        self.statement(
            "INSERT INTO totp_enrolments (user_id, secret, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, expires_at = excluded.expires_at",
            &[
                text(enrolment.user_id.as_str()),
                text(&enrolment.encrypted_secret),
                number(enrolment.expires_at.0),
            ],
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put TOTP enrolment", e))?;
        Ok(())
    }

    async fn totp_enrolment(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<TotpEnrolment>> {
        let row: Option<TotpEnrolmentRow> = self
            .statement(
                "SELECT secret, expires_at FROM totp_enrolments WHERE user_id = ?1 AND expires_at > ?2",
                &[text(user_id.as_str()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 TOTP enrolment", e))?;
        Ok(row.map(|r| r.into_record(user_id)))
    }

    async fn confirm_totp(
        &self,
        enrolment: &TotpEnrolment,
        factor: &TotpFactor,
        codes: &RecoveryCodes,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let user_id = factor.user_id.as_str();
        // One batch, so one transaction. Its first statement is the guard: it inserts the
        // factor with its secret only while the enrolment is live and unreplaced (same
        // secret) and the user has TOTP off, and otherwise with a NULL secret, which fails the
        // NOT NULL constraint and so rolls back the whole batch. Every later statement runs
        // only after the guard passed.
        let mut batch = vec![self.statement(
            "INSERT INTO totp_factors (user_id, secret, last_step, created_at, last_used_at) \
             SELECT ?1, CASE WHEN EXISTS (SELECT 1 FROM totp_enrolments WHERE user_id = ?6 AND secret = ?7 AND expires_at > ?8) \
                 AND EXISTS (SELECT 1 FROM users WHERE id = ?1 AND totp = 0) THEN ?2 END, ?3, ?4, ?5 WHERE 1 \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step, \
                 created_at = excluded.created_at, last_used_at = excluded.last_used_at",
            &[
                text(user_id),
                text(&factor.encrypted_secret),
                factor
                    .last_step
                    .map(|s| integer(s, "TOTP factor last_step"))
                    .transpose()?
                    .map_or(JsValue::NULL, number),
                number(factor.created_at.0),
                factor.last_used_at.map_or(JsValue::NULL, |t| number(t.0)),
                text(enrolment.user_id.as_str()),
                text(&enrolment.encrypted_secret),
                number(now.0),
            ],
        )?];
        batch.extend(self.replace_codes(codes)?);
        batch.push(self.statement("UPDATE users SET totp = 1 WHERE id = ?1", &[text(user_id)])?);
        batch.push(self.statement(
            "DELETE FROM totp_enrolments WHERE user_id = ?1",
            &[text(enrolment.user_id.as_str())],
        )?);
        match self.batch(batch).await {
            Ok(_) => Ok(true),
            Err(e)
                if e.to_string()
                    .contains("NOT NULL constraint failed: totp_factors.secret") =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("D1 confirm TOTP", e)),
        }
    }

    async fn totp_factor(&self, user_id: &UserId) -> StoreResult<Option<TotpFactor>> {
        let row: Option<TotpRow> = self
            .statement(
                "SELECT secret, last_step, created_at, last_used_at FROM totp_factors WHERE user_id = ?1",
                &[text(user_id.as_str())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 TOTP factor", e))?;
        row.map(|r| r.into_record(user_id)).transpose()
    }

    async fn accept_totp_step(
        &self,
        user_id: &UserId,
        step: u64,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // Compare-and-set in one statement: of two requests with one code, the second finds
        // the step taken.
        let result = self
            .statement(
                "UPDATE totp_factors SET last_step = ?2, last_used_at = ?3 \
                 WHERE user_id = ?1 AND (last_step IS NULL OR last_step < ?2)",
                &[
                    text(user_id.as_str()),
                    number(integer(step, "TOTP step")?),
                    number(now.0),
                ],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 accept TOTP step", e))?;
        changed_one(&result, "D1 accept TOTP step")
    }

    async fn remove_totp(&self, user_id: &UserId) -> StoreResult<bool> {
        // One batch: the summary is cleared only while the factor is there to delete.
        let results = self
            .batch(vec![
                self.statement(
                    "UPDATE users SET totp = 0 WHERE id = ?1 \
                     AND EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ?1)",
                    &[text(user_id.as_str())],
                )?,
                self.statement(
                    "DELETE FROM totp_factors WHERE user_id = ?1",
                    &[text(user_id.as_str())],
                )?,
            ])
            .await
            .map_err(|e| unavailable("D1 remove TOTP", e))?;
        let removed = results
            .last()
            .ok_or_else(|| StoreError::Corrupt("remove-TOTP batch returned no result".into()))?;
        changed_one(removed, "D1 remove TOTP")
    }

    async fn recovery_codes(&self, user_id: &UserId) -> StoreResult<Option<RecoveryCodes>> {
        // One statement, so the set and its codes are read at one moment.
        let rows: Vec<RecoveryRow> = self
            .statement(
                "SELECT s.created_at, c.code_hash FROM recovery_code_sets s \
                 LEFT JOIN recovery_codes c ON c.user_id = s.user_id WHERE s.user_id = ?1",
                &[text(user_id.as_str())],
            )?
            .all()
            .await
            .map_err(|e| unavailable("D1 recovery codes", e))?
            .results()
            .map_err(|e| unavailable("D1 recovery codes", e))?;
        recovery_codes(user_id, rows)
    }

    async fn replace_recovery_codes(&self, codes: &RecoveryCodes) -> StoreResult<()> {
        self.batch(self.replace_codes(codes)?)
            .await
            .map_err(|e| unavailable("D1 replace recovery codes", e))?;
        Ok(())
    }

    async fn take_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &TokenHash,
    ) -> StoreResult<bool> {
        // One delete: of two takers of one code, the second finds no row.
        let result = self
            .statement(
                "DELETE FROM recovery_codes WHERE user_id = ?1 AND code_hash = ?2",
                &[text(user_id.as_str()), text(&code_hash.to_hex())],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 take recovery code", e))?;
        changed_one(&result, "D1 take recovery code")
    }

    async fn delete_recovery_codes(&self, user_id: &UserId) -> StoreResult<()> {
        self.batch(vec![
            self.statement(
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                &[text(user_id.as_str())],
            )?,
            self.statement(
                "DELETE FROM recovery_code_sets WHERE user_id = ?1",
                &[text(user_id.as_str())],
            )?,
        ])
        .await
        .map_err(|e| unavailable("D1 delete recovery codes", e))?;
        Ok(())
    }

    async fn add_passkey(
        &self,
        passkey: &Passkey,
        first_codes: Option<&RecoveryCodes>,
    ) -> StoreResult<PasskeyInsert> {
        // One batch, so one transaction. The insert is the guard: the credential id is the
        // primary key (a registered one fails it), and the user id is NULL, failing its NOT
        // NULL constraint, unless the user exists (and, for a first factor, has none). Either
        // failure rolls back the whole batch. SQLite checks NOT NULL before UNIQUE, so a
        // registered id keeps the user id set: it is answered as taken, whatever the user.
        let has_no_factor = if first_codes.is_some() {
            " AND totp = 0 AND passkeys = 0"
        } else {
            ""
        };
        let mut batch = vec![self.statement(
            &format!(
                "INSERT INTO passkeys ({PASSKEY_COLUMNS}) \
                 SELECT ?1, CASE WHEN EXISTS (SELECT 1 FROM passkeys WHERE credential_id = ?1) \
                     OR EXISTS (SELECT 1 FROM users WHERE id = ?2{has_no_factor}) THEN ?2 END, \
                 ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"
            ),
            &passkey_values(passkey),
        )?];
        batch.push(self.statement(
            "UPDATE users SET passkeys = passkeys + 1 WHERE id = ?1",
            &[text(passkey.user_id.as_str())],
        )?);
        if let Some(codes) = first_codes {
            batch.extend(self.replace_codes(codes)?);
        }
        match self.batch(batch).await {
            Ok(_) => Ok(PasskeyInsert::Inserted),
            Err(e)
                if e.to_string()
                    .contains("UNIQUE constraint failed: passkeys.") =>
            {
                Ok(PasskeyInsert::CredentialTaken)
            }
            Err(e)
                if e.to_string()
                    .contains("NOT NULL constraint failed: passkeys.user_id") =>
            {
                Ok(PasskeyInsert::FactorsChanged)
            }
            Err(e) => Err(unavailable("D1 add passkey", e)),
        }
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &CredentialId,
    ) -> StoreResult<Option<Passkey>> {
        let row: Option<PasskeyRow> = self
            .statement(
                &format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?1"),
                &[text(&crate::crypto::b64url(credential_id.as_bytes()))],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 passkey by credential", e))?;
        row.map(PasskeyRow::into_record).transpose()
    }

    async fn passkeys_of(&self, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
        let rows: Vec<PasskeyRow> = self
            .statement(
                &format!(
                    "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id"
                ),
                &[text(user_id.as_str())],
            )?
            .all()
            .await
            .map_err(|e| unavailable("D1 passkeys of user", e))?
            .results()
            .map_err(|e| unavailable("D1 passkeys of user", e))?;
        rows.into_iter().map(PasskeyRow::into_record).collect()
    }

    async fn use_passkey(
        &self,
        user_id: &UserId,
        id: &FactorId,
        old_count: u32,
        new_count: u32,
        backed_up: bool,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // Compare-and-set on the count the caller read: of two assertions, one lands.
        let result = self
            .statement(
                "UPDATE passkeys SET sign_count = ?4, backed_up = ?5, last_used_at = ?6 \
                 WHERE user_id = ?1 AND id = ?2 AND sign_count = ?3",
                &[
                    text(user_id.as_str()),
                    text(id.as_str()),
                    number(i64::from(old_count)),
                    number(i64::from(new_count)),
                    number(i64::from(backed_up)),
                    number(now.0),
                ],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 use passkey", e))?;
        changed_one(&result, "D1 use passkey")
    }

    async fn rename_passkey(
        &self,
        user_id: &UserId,
        id: &FactorId,
        name: &str,
    ) -> StoreResult<bool> {
        let result = self
            .statement(
                "UPDATE passkeys SET name = ?3 WHERE user_id = ?1 AND id = ?2",
                &[text(user_id.as_str()), text(id.as_str()), text(name)],
            )?
            .run()
            .await
            .map_err(|e| unavailable("D1 rename passkey", e))?;
        changed_one(&result, "D1 rename passkey")
    }

    async fn remove_passkey(&self, user_id: &UserId, id: &FactorId) -> StoreResult<bool> {
        // One batch: the count drops only while the passkey is there to delete.
        let key = [text(user_id.as_str()), text(id.as_str())];
        let results = self
            .batch(vec![
                self.statement(
                    "UPDATE users SET passkeys = passkeys - 1 WHERE id = ?1 \
                     AND EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1 AND id = ?2)",
                    &key,
                )?,
                self.statement("DELETE FROM passkeys WHERE user_id = ?1 AND id = ?2", &key)?,
            ])
            .await
            .map_err(|e| unavailable("D1 remove passkey", e))?;
        let removed = results
            .last()
            .ok_or_else(|| StoreError::Corrupt("remove-passkey batch returned no result".into()))?;
        changed_one(removed, "D1 remove passkey")
    }

    async fn put_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()> {
        self.statement(
            &format!(
                "INSERT OR REPLACE INTO pending_sign_ins ({PENDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            &pending_values(pending)?,
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put pending sign-in", e))?;
        Ok(())
    }

    async fn pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        let row: Option<PendingRow> = self
            .statement(
                &format!(
                    "SELECT {PENDING_COLUMNS} FROM pending_sign_ins WHERE token_hash = ?1 AND expires_at > ?2"
                ),
                &[text(&token_hash.to_hex()), number(now.0)],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 pending sign-in", e))?;
        row.map(PendingRow::into_record).transpose()
    }

    async fn count_pending_failure(
        &self,
        token_hash: &TokenHash,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        // As count_challenge_failure: add and read in one statement, delete at the limit in
        // the same transaction.
        let results = self
            .batch(vec![
                self.statement(
                    "UPDATE pending_sign_ins SET failures = failures + 1 \
                     WHERE token_hash = ?1 AND expires_at > ?2 RETURNING failures",
                    &[text(&token_hash.to_hex()), number(now.0)],
                )?,
                self.statement(
                    "DELETE FROM pending_sign_ins WHERE token_hash = ?1 AND failures >= ?2",
                    &[text(&token_hash.to_hex()), number(i64::from(max_failures))],
                )?,
            ])
            .await
            .map_err(|e| unavailable("D1 count pending failure", e))?;
        let counted: Vec<FailuresRow> = results
            .first()
            .ok_or_else(|| StoreError::Corrupt("pending failure count returned no result".into()))?
            .results()
            .map_err(|e| unavailable("D1 count pending failure", e))?;
        counted.first().map(FailuresRow::failures).transpose()
    }

    async fn take_pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        // DELETE … RETURNING: of two takers, only one gets the row.
        let row: Option<PendingRow> = self
            .statement(
                &format!(
                    "DELETE FROM pending_sign_ins WHERE token_hash = ?1 RETURNING {PENDING_COLUMNS}"
                ),
                &[text(&token_hash.to_hex())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 take pending sign-in", e))?;
        let Some(row) = row else { return Ok(None) };
        let pending = row.into_record()?;
        Ok(is_live(pending.expires_at, now).then_some(pending))
    }

    async fn put_webauthn_challenge(&self, challenge: &WebAuthnChallenge) -> StoreResult<()> {
        self.statement(
            &format!(
                "INSERT OR REPLACE INTO webauthn_challenges ({WEBAUTHN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            &webauthn_values(challenge)?,
        )?
        .run()
        .await
        .map_err(|e| unavailable("D1 put WebAuthn challenge", e))?;
        Ok(())
    }

    async fn sessions_of(
        &self,
        user: &UserRecord,
        now: UnixTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.live_sessions_of(user, now).await
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        id: &SessionId,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        self.end_session_of(user_id, id, now).await
    }

    async fn add_activity(&self, entries: &[ActivityEntry]) -> StoreResult<()> {
        self.put_activity(entries).await
    }

    async fn activity_of(
        &self,
        user_id: &UserId,
        after: Option<&ActivityCursor>,
        limit: usize,
        now: UnixTime,
    ) -> StoreResult<Vec<ActivityEntry>> {
        self.activity_page(user_id, after, limit, now).await
    }

    async fn take_webauthn_challenge(
        &self,
        challenge_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<WebAuthnChallenge>> {
        let row: Option<WebAuthnRow> = self
            .statement(
                &format!(
                    "DELETE FROM webauthn_challenges WHERE challenge_hash = ?1 RETURNING {WEBAUTHN_COLUMNS}"
                ),
                &[text(&challenge_hash.to_hex())],
            )?
            .first(None)
            .await
            .map_err(|e| unavailable("D1 take WebAuthn challenge", e))?;
        let Some(row) = row else { return Ok(None) };
        let challenge = row.into_record()?;
        Ok(is_live(challenge.expires_at, now).then_some(challenge))
    }
}
