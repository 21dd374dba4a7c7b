//! An in-process store for tests and the local dev server. One mutex gives every operation
//! the atomicity the trait promises.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::events::{ActivityCursor, ActivityEntry};

#[derive(Default)]
struct Tables {
    users: HashMap<UserId, UserRecord>,
    /// Keyed by [`Email::hash`], as every store is.
    emails: HashMap<TokenHash, UserId>,
    sessions: HashMap<TokenHash, SessionRecord>,
    counters: HashMap<CounterKey, Counter>,
    identities: HashMap<FederatedIdentity, UserId>,
    attempts: HashMap<TokenHash, FederationAttempt>,
    devices: HashMap<TokenHash, DeviceAuthorization>,
    refresh_tokens: HashMap<TokenHash, RefreshTokenRecord>,
    revoked_families: HashMap<String, UnixTime>,
    challenges: HashMap<ChallengeKey, EmailChallenge>,
    totp_enrolments: HashMap<UserId, TotpEnrolment>,
    totp_factors: HashMap<UserId, TotpFactor>,
    recovery_codes: HashMap<UserId, RecoveryCodes>,
    /// Keyed by credential id: the map is the uniqueness claim.
    passkeys: HashMap<CredentialId, Passkey>,
    pending_sign_ins: HashMap<TokenHash, PendingSignIn>,
    webauthn_challenges: HashMap<TokenHash, WebAuthnChallenge>,
    activity: Vec<ActivityEntry>,
}

impl Tables {
    /// The challenge `proof` names, if it is still the live one under its key.
    fn live_challenge(&self, proof: &ChallengeProof, now: UnixTime) -> Option<&EmailChallenge> {
        self.challenges
            .get(&proof.key)
            .filter(|c| c.token_hash == proof.token_hash && is_live(c.expires_at, now))
    }
}

/// A [`Store`] in this process's memory: lost when it exits, shared by nothing else.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    /// See [`MemoryStore::poll_after_each_user_code_lookup`].
    poll_after_lookup: std::sync::atomic::AtomicBool,
    /// See [`MemoryStore::yield_after_each_token_read`].
    yield_after_read: std::sync::atomic::AtomicBool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied write (each operation
        // mutates only after all its checks), so a poisoned lock is still consistent.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// FAULT (test-only, named as such): right after each look-up by user code, a poll of that
    /// device lands and bumps its version, as when the device polls at the moment its user
    /// answers. Over DynamoDB this happens for real, but not on cue.
    pub fn poll_after_each_user_code_lookup(&self) {
        self.poll_after_lookup
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// FAULT (test-only, named as such): each read of a refresh token or a device
    /// authorization (by device code or user code) gives way to the other tasks before it answers, so requests that run
    /// concurrently on one thread all read before any of them writes: the race that parallel
    /// refreshes, polls or answers meet over DynamoDB for real, but not on cue.
    pub fn yield_after_each_token_read(&self) {
        self.yield_after_read
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    async fn maybe_yield(&self) {
        if self
            .yield_after_read
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            YieldOnce(false).await;
        }
    }

    /// Number of live session records, for tests that check nothing was left behind.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

/// A future that is pending once (waking itself at once), then ready: the task gives way to
/// the others without any runtime's help.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Store for MemoryStore {
    async fn create_user(
        &self,
        user: &UserRecord,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        let mut t = self.lock();
        if t.emails.contains_key(&user.email.hash()) || t.users.contains_key(&user.id) {
            return Ok(Insert::AlreadyExists);
        }
        t.emails.insert(user.email.hash(), user.id.clone());
        t.users.insert(user.id.clone(), user.clone());
        t.sessions
            .insert(first_session.token_hash, first_session.clone());
        Ok(Insert::Inserted)
    }

    async fn create_federated_user(
        &self,
        user: &UserRecord,
        identity: &FederatedIdentity,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        let mut t = self.lock();
        if t.emails.contains_key(&user.email.hash())
            || t.users.contains_key(&user.id)
            || t.identities.contains_key(identity)
        {
            return Ok(Insert::AlreadyExists);
        }
        t.emails.insert(user.email.hash(), user.id.clone());
        t.users.insert(user.id.clone(), user.clone());
        t.identities.insert(identity.clone(), user.id.clone());
        t.sessions
            .insert(first_session.token_hash, first_session.clone());
        Ok(Insert::Inserted)
    }

    async fn user_by_identity(
        &self,
        identity: &FederatedIdentity,
    ) -> StoreResult<Option<UserRecord>> {
        let t = self.lock();
        Ok(t.identities
            .get(identity)
            .and_then(|id| t.users.get(id))
            .cloned())
    }

    async fn link_identity(
        &self,
        identity: &FederatedIdentity,
        user_id: &UserId,
    ) -> StoreResult<Insert> {
        let mut t = self.lock();
        if t.identities.contains_key(identity) {
            return Ok(Insert::AlreadyExists);
        }
        t.identities.insert(identity.clone(), user_id.clone());
        Ok(Insert::Inserted)
    }

    async fn put_federation_attempt(&self, attempt: &FederationAttempt) -> StoreResult<()> {
        self.lock().attempts.insert(attempt.key, attempt.clone());
        Ok(())
    }

    async fn take_federation_attempt(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<FederationAttempt>> {
        Ok(self
            .lock()
            .attempts
            .remove(key)
            .filter(|a| is_live(a.expires_at, now)))
    }

    async fn create_device_authorization(
        &self,
        auth: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<Insert> {
        let mut t = self.lock();
        let taken = t
            .devices
            .values()
            .any(|d| d.user_code_hash == auth.user_code_hash && is_live(d.expires_at, now));
        if taken || t.devices.contains_key(&auth.device_code_hash) {
            return Ok(Insert::AlreadyExists);
        }
        t.devices.insert(auth.device_code_hash, auth.clone());
        Ok(Insert::Inserted)
    }

    async fn device_authorization(
        &self,
        device_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let read = self
            .lock()
            .devices
            .get(device_code_hash)
            .filter(|d| is_live(d.expires_at, now))
            .cloned();
        self.maybe_yield().await;
        Ok(read)
    }

    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let read = {
            let mut t = self.lock();
            let found = t
                .devices
                .values_mut()
                .find(|d| d.user_code_hash == *user_code_hash && is_live(d.expires_at, now));
            let read = found.as_ref().map(|d| (*d).clone());
            if let Some(stored) = found
                && self
                    .poll_after_lookup
                    .load(std::sync::atomic::Ordering::SeqCst)
            {
                stored.last_polled_at = Some(now);
                stored.version += 1;
            }
            read
        };
        self.maybe_yield().await;
        Ok(read)
    }

    async fn update_device_authorization(&self, auth: &DeviceAuthorization) -> StoreResult<bool> {
        let mut t = self.lock();
        match t.devices.get_mut(&auth.device_code_hash) {
            Some(stored) if stored.version + 1 == auth.version => {
                *stored = auth.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn decide_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        decision: &DeviceStatus,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut t = self.lock();
        match t.devices.get_mut(device_code_hash) {
            Some(stored)
                if stored.status == DeviceStatus::Pending && is_live(stored.expires_at, now) =>
            {
                stored.status = decision.clone();
                stored.version += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        self.lock()
            .refresh_tokens
            .insert(token.token_hash, token.clone());
        Ok(())
    }

    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let read = self
            .lock()
            .refresh_tokens
            .get(token_hash)
            .filter(|r| is_live(r.expires_at, now))
            .cloned();
        self.maybe_yield().await;
        Ok(read)
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshTokenRecord,
    ) -> StoreResult<Rotation> {
        let mut t = self.lock();
        if t.revoked_families.contains_key(&new.family_id) {
            return Ok(Rotation::AlreadyUsed);
        }
        match t.refresh_tokens.get_mut(old) {
            Some(record) if record.active => {
                record.active = false;
                t.refresh_tokens.insert(new.token_hash, new.clone());
                Ok(Rotation::Rotated)
            }
            _ => Ok(Rotation::AlreadyUsed),
        }
    }

    async fn revoke_token_family(&self, family_id: &str, until: UnixTime) -> StoreResult<()> {
        self.lock()
            .revoked_families
            .insert(family_id.to_owned(), until);
        Ok(())
    }

    async fn is_token_family_revoked(&self, family_id: &str, now: UnixTime) -> StoreResult<bool> {
        Ok(self
            .lock()
            .revoked_families
            .get(family_id)
            .is_some_and(|until| is_live(*until, now)))
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        let t = self.lock();
        Ok(t.emails
            .get(&email.hash())
            .and_then(|id| t.users.get(id))
            .cloned())
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn put_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.lock()
            .sessions
            .insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let t = self.lock();
        Ok(t.sessions
            .get(token_hash)
            .filter(|s| is_live(s.idle_expires_at, now) && is_live(s.expires_at, now))
            .cloned())
    }

    async fn renew_session(
        &self,
        token_hash: &TokenHash,
        renewed_at: UnixTime,
        idle_expires_at: UnixTime,
    ) -> StoreResult<()> {
        if let Some(s) = self.lock().sessions.get_mut(token_hash) {
            s.renewed_at = renewed_at;
            s.idle_expires_at = idle_expires_at;
        }
        Ok(())
    }

    async fn delete_session(&self, token_hash: &TokenHash, _now: UnixTime) -> StoreResult<()> {
        self.lock().sessions.remove(token_hash);
        Ok(())
    }

    async fn revoke_all_sessions(&self, user_id: &UserId) -> StoreResult<()> {
        let mut t = self.lock();
        if let Some(u) = t.users.get_mut(user_id) {
            u.session_epoch += 1;
        }
        t.sessions.retain(|_, s| &s.user_id != user_id);
        Ok(())
    }

    async fn sessions_of(
        &self,
        user: &UserRecord,
        now: UnixTime,
    ) -> StoreResult<Vec<SessionRecord>> {
        let t = self.lock();
        let Some(stored) = t.users.get(&user.id) else {
            return Ok(Vec::new());
        };
        let mut sessions: Vec<SessionRecord> = t
            .sessions
            .values()
            .filter(|s| {
                s.user_id == user.id
                    && s.user_epoch == stored.session_epoch
                    && is_live(s.idle_expires_at, now)
                    && is_live(s.expires_at, now)
            })
            .cloned()
            .collect();
        sessions.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
        Ok(sessions)
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        id: &SessionId,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut t = self.lock();
        let Some(hash) = t
            .sessions
            .values()
            .find(|s| {
                &s.user_id == user_id
                    && &s.id == id
                    && is_live(s.idle_expires_at, now)
                    && is_live(s.expires_at, now)
            })
            .map(|s| s.token_hash)
        else {
            return Ok(None);
        };
        Ok(t.sessions.remove(&hash))
    }

    async fn add_activity(&self, entries: &[ActivityEntry]) -> StoreResult<()> {
        self.lock().activity.extend(entries.iter().cloned());
        Ok(())
    }

    async fn activity_of(
        &self,
        user_id: &UserId,
        after: Option<&ActivityCursor>,
        limit: usize,
        now: UnixTime,
    ) -> StoreResult<Vec<ActivityEntry>> {
        let t = self.lock();
        let mut entries: Vec<ActivityEntry> = t
            .activity
            .iter()
            .filter(|e| {
                &e.user_id == user_id
                    && is_live(e.expires_at, now)
                    && after.is_none_or(|c| (e.time, e.id.as_str()) < (c.time, c.id.as_str()))
            })
            .cloned()
            .collect();
        entries.sort_by(|a, b| (b.time, b.id.as_str()).cmp(&(a.time, a.id.as_str())));
        entries.truncate(limit);
        Ok(entries)
    }

    async fn increment(
        &self,
        key: &CounterKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<Counter> {
        let mut t = self.lock();
        let c = t.counters.entry(key.clone()).or_insert(Counter {
            count: 0,
            expires_at,
        });
        if !is_live(c.expires_at, now) {
            *c = Counter {
                count: 0,
                expires_at,
            };
        }
        c.count += 1;
        Ok(*c)
    }

    async fn counter(&self, key: &CounterKey, now: UnixTime) -> StoreResult<Option<Counter>> {
        Ok(self
            .lock()
            .counters
            .get(key)
            .filter(|c| is_live(c.expires_at, now))
            .copied())
    }

    async fn put_counter(&self, key: &CounterKey, counter: Counter) -> StoreResult<()> {
        self.lock().counters.insert(key.clone(), counter);
        Ok(())
    }

    async fn delete_counter(&self, key: &CounterKey) -> StoreResult<()> {
        self.lock().counters.remove(key);
        Ok(())
    }

    async fn put_challenge(&self, challenge: &EmailChallenge) -> StoreResult<()> {
        self.lock()
            .challenges
            .insert(challenge.key.clone(), challenge.clone());
        Ok(())
    }

    async fn challenge(
        &self,
        key: &ChallengeKey,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>> {
        Ok(self
            .lock()
            .challenges
            .get(key)
            .filter(|c| is_live(c.expires_at, now))
            .cloned())
    }

    async fn challenge_by_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>> {
        let t = self.lock();
        Ok(t.challenges
            .values()
            .find(|c| &c.token_hash == token_hash && is_live(c.expires_at, now))
            .cloned())
    }

    async fn count_challenge_failure(
        &self,
        proof: &ChallengeProof,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        let mut t = self.lock();
        let Some(failures) = t.live_challenge(proof, now).map(|c| c.failures + 1) else {
            return Ok(None);
        };
        if failures >= max_failures {
            t.challenges.remove(&proof.key);
        } else if let Some(c) = t.challenges.get_mut(&proof.key) {
            c.failures = failures;
        }
        Ok(Some(failures))
    }

    async fn take_challenge(&self, proof: &ChallengeProof, now: UnixTime) -> StoreResult<bool> {
        let mut t = self.lock();
        if t.live_challenge(proof, now).is_none() {
            return Ok(false);
        }
        t.challenges.remove(&proof.key);
        Ok(true)
    }

    async fn complete_sign_up(
        &self,
        proof: &ChallengeProof,
        user: &UserRecord,
        first_session: &SessionRecord,
        now: UnixTime,
    ) -> StoreResult<SignUpOutcome> {
        let mut t = self.lock();
        if t.live_challenge(proof, now).is_none() {
            return Ok(SignUpOutcome::ChallengeGone);
        }
        if t.emails.contains_key(&user.email.hash()) || t.users.contains_key(&user.id) {
            return Ok(SignUpOutcome::EmailTaken);
        }
        t.challenges.remove(&proof.key);
        t.emails.insert(user.email.hash(), user.id.clone());
        t.users.insert(user.id.clone(), user.clone());
        t.sessions
            .insert(first_session.token_hash, first_session.clone());
        Ok(SignUpOutcome::Created)
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &PasswordHashString,
        proof: Option<&ChallengeProof>,
        now: UnixTime,
    ) -> StoreResult<Option<u64>> {
        let mut t = self.lock();
        if proof.is_some_and(|p| t.live_challenge(p, now).is_none())
            || !t.users.contains_key(user_id)
        {
            return Ok(None);
        }
        if let Some(p) = proof {
            t.challenges.remove(&p.key);
        }
        let Some(user) = t.users.get_mut(user_id) else {
            return Ok(None);
        };
        user.password_hash = Some(password_hash.clone());
        user.session_epoch += 1;
        user.email_verified |= proof.is_some();
        let epoch = user.session_epoch;
        t.sessions.retain(|_, s| &s.user_id != user_id);
        Ok(Some(epoch))
    }

    async fn change_email(
        &self,
        proof: &ChallengeProof,
        user_id: &UserId,
        new_email: &Email,
        now: UnixTime,
    ) -> StoreResult<EmailChange> {
        let mut t = self.lock();
        if t.live_challenge(proof, now).is_none() {
            return Ok(EmailChange::ChallengeGone);
        }
        let Some(old_email) = t.users.get(user_id).map(|u| u.email.hash()) else {
            return Ok(EmailChange::ChallengeGone);
        };
        if t.emails.contains_key(&new_email.hash()) {
            return Ok(EmailChange::EmailTaken);
        }
        t.challenges.remove(&proof.key);
        t.emails.remove(&old_email);
        t.emails.insert(new_email.hash(), user_id.clone());
        if let Some(user) = t.users.get_mut(user_id) {
            user.email = new_email.clone();
            user.email_verified = true;
        }
        Ok(EmailChange::Changed)
    }

    async fn delete_user(&self, user: &UserRecord) -> StoreResult<bool> {
        let mut t = self.lock();
        // The stored record, not the caller's: the address may have changed since it was read.
        let Some(user) = t.users.remove(&user.id) else {
            return Ok(false);
        };
        t.emails.remove(&user.email.hash());
        t.identities.retain(|_, id| id != &user.id);
        t.sessions.retain(|_, s| s.user_id != user.id);
        t.activity.retain(|e| e.user_id != user.id);
        let families: Vec<String> = t
            .refresh_tokens
            .values()
            .filter(|r| r.user_id == user.id)
            .map(|r| r.family_id.clone())
            .collect();
        t.refresh_tokens.retain(|_, r| r.user_id != user.id);
        t.revoked_families
            .retain(|family, _| !families.contains(family));
        let by_address = [
            ChallengeKey::sign_up(&user.email),
            ChallengeKey::password_reset(&user.email),
            ChallengeKey::sign_in_code(&user.email),
            ChallengeKey::email_change(&user.id),
        ];
        t.challenges.retain(|key, c| {
            !by_address.contains(key) && challenge_user(&c.action) != Some(&user.id)
        });
        let counters = [
            CounterKey::sign_in_attempts(&user.email),
            CounterKey::mail_to(&user.email),
        ];
        t.counters.retain(|key, _| !counters.contains(key));
        t.totp_enrolments.remove(&user.id);
        t.totp_factors.remove(&user.id);
        t.recovery_codes.remove(&user.id);
        t.passkeys.retain(|_, p| p.user_id != user.id);
        t.pending_sign_ins.retain(|_, p| p.user_id != user.id);
        t.webauthn_challenges.retain(|_, c| {
            !matches!(&c.purpose, CeremonyPurpose::Register { user_id, .. } if user_id == &user.id)
        });
        Ok(true)
    }

    async fn mark_email_verified(&self, user_id: &UserId, email: &Email) -> StoreResult<bool> {
        let mut t = self.lock();
        match t.users.get_mut(user_id) {
            Some(user) if &user.email == email => {
                user.email_verified = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn put_totp_enrolment(&self, enrolment: &TotpEnrolment) -> StoreResult<()> {
        self.lock()
            .totp_enrolments
            .insert(enrolment.user_id.clone(), enrolment.clone());
        Ok(())
    }

    async fn totp_enrolment(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<TotpEnrolment>> {
        Ok(self
            .lock()
            .totp_enrolments
            .get(user_id)
            .filter(|e| is_live(e.expires_at, now))
            .cloned())
    }

    async fn confirm_totp(
        &self,
        enrolment: &TotpEnrolment,
        factor: &TotpFactor,
        codes: &RecoveryCodes,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut t = self.lock();
        let live = t.totp_enrolments.get(&enrolment.user_id).is_some_and(|e| {
            e.encrypted_secret == enrolment.encrypted_secret && is_live(e.expires_at, now)
        });
        let on = t.users.get(&factor.user_id).map(|u| u.factors.totp);
        if !live || on != Some(false) {
            return Ok(false);
        }
        t.totp_enrolments.remove(&enrolment.user_id);
        t.totp_factors
            .insert(factor.user_id.clone(), factor.clone());
        t.recovery_codes
            .insert(codes.user_id.clone(), codes.clone());
        t.users
            .get_mut(&factor.user_id)
            .expect("checked above")
            .factors
            .totp = true;
        Ok(true)
    }

    async fn totp_factor(&self, user_id: &UserId) -> StoreResult<Option<TotpFactor>> {
        Ok(self.lock().totp_factors.get(user_id).cloned())
    }

    async fn accept_totp_step(
        &self,
        user_id: &UserId,
        step: u64,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut t = self.lock();
        match t.totp_factors.get_mut(user_id) {
            Some(f) if f.last_step.is_none_or(|last| last < step) => {
                f.last_step = Some(step);
                f.last_used_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove_totp(&self, user_id: &UserId) -> StoreResult<bool> {
        let mut t = self.lock();
        if t.totp_factors.remove(user_id).is_none() {
            return Ok(false);
        }
        if let Some(user) = t.users.get_mut(user_id) {
            user.factors.totp = false;
        }
        Ok(true)
    }

    async fn recovery_codes(&self, user_id: &UserId) -> StoreResult<Option<RecoveryCodes>> {
        Ok(self.lock().recovery_codes.get(user_id).cloned())
    }

    async fn replace_recovery_codes(&self, codes: &RecoveryCodes) -> StoreResult<()> {
        self.lock()
            .recovery_codes
            .insert(codes.user_id.clone(), codes.clone());
        Ok(())
    }

    async fn take_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &TokenHash,
    ) -> StoreResult<bool> {
        let mut t = self.lock();
        let Some(codes) = t.recovery_codes.get_mut(user_id) else {
            return Ok(false);
        };
        let before = codes.code_hashes.len();
        codes.code_hashes.retain(|h| h != code_hash);
        Ok(codes.code_hashes.len() < before)
    }

    async fn delete_recovery_codes(&self, user_id: &UserId) -> StoreResult<()> {
        self.lock().recovery_codes.remove(user_id);
        Ok(())
    }

    async fn add_passkey(
        &self,
        passkey: &Passkey,
        first_codes: Option<&RecoveryCodes>,
    ) -> StoreResult<PasskeyInsert> {
        let mut t = self.lock();
        if t.passkeys.contains_key(&passkey.credential_id) {
            return Ok(PasskeyInsert::CredentialTaken);
        }
        let Some(factors) = t.users.get(&passkey.user_id).map(|u| u.factors) else {
            return Ok(PasskeyInsert::FactorsChanged);
        };
        if first_codes.is_some() && !factors.is_empty() {
            return Ok(PasskeyInsert::FactorsChanged);
        }
        if let Some(codes) = first_codes {
            t.recovery_codes
                .insert(codes.user_id.clone(), codes.clone());
        }
        t.passkeys
            .insert(passkey.credential_id.clone(), passkey.clone());
        t.users
            .get_mut(&passkey.user_id)
            .expect("checked above")
            .factors
            .passkeys += 1;
        Ok(PasskeyInsert::Inserted)
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &CredentialId,
    ) -> StoreResult<Option<Passkey>> {
        Ok(self.lock().passkeys.get(credential_id).cloned())
    }

    async fn passkeys_of(&self, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
        let mut found: Vec<Passkey> = self
            .lock()
            .passkeys
            .values()
            .filter(|p| &p.user_id == user_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(found)
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
        let mut t = self.lock();
        match t
            .passkeys
            .values_mut()
            .find(|p| &p.user_id == user_id && &p.id == id)
        {
            Some(p) if p.sign_count == old_count => {
                p.sign_count = new_count;
                p.backed_up = backed_up;
                p.last_used_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rename_passkey(
        &self,
        user_id: &UserId,
        id: &FactorId,
        name: &str,
    ) -> StoreResult<bool> {
        let mut t = self.lock();
        match t
            .passkeys
            .values_mut()
            .find(|p| &p.user_id == user_id && &p.id == id)
        {
            Some(p) => {
                name.clone_into(&mut p.name);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn remove_passkey(&self, user_id: &UserId, id: &FactorId) -> StoreResult<bool> {
        let mut t = self.lock();
        let Some(credential) = t
            .passkeys
            .iter()
            .find(|(_, p)| &p.user_id == user_id && &p.id == id)
            .map(|(c, _)| c.clone())
        else {
            return Ok(false);
        };
        t.passkeys.remove(&credential);
        if let Some(user) = t.users.get_mut(user_id) {
            user.factors.passkeys = user.factors.passkeys.saturating_sub(1);
        }
        Ok(true)
    }

    async fn put_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()> {
        self.lock()
            .pending_sign_ins
            .insert(pending.token_hash, pending.clone());
        Ok(())
    }

    async fn pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        Ok(self
            .lock()
            .pending_sign_ins
            .get(token_hash)
            .filter(|p| is_live(p.expires_at, now))
            .cloned())
    }

    async fn count_pending_failure(
        &self,
        token_hash: &TokenHash,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        let mut t = self.lock();
        let Some(pending) = t
            .pending_sign_ins
            .get_mut(token_hash)
            .filter(|p| is_live(p.expires_at, now))
        else {
            return Ok(None);
        };
        pending.failures += 1;
        let failures = pending.failures;
        if failures >= max_failures {
            t.pending_sign_ins.remove(token_hash);
        }
        Ok(Some(failures))
    }

    async fn take_pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        Ok(self
            .lock()
            .pending_sign_ins
            .remove(token_hash)
            .filter(|p| is_live(p.expires_at, now)))
    }

    async fn put_webauthn_challenge(&self, challenge: &WebAuthnChallenge) -> StoreResult<()> {
        self.lock()
            .webauthn_challenges
            .insert(challenge.challenge_hash, challenge.clone());
        Ok(())
    }

    async fn take_webauthn_challenge(
        &self,
        challenge_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<WebAuthnChallenge>> {
        Ok(self
            .lock()
            .webauthn_challenges
            .remove(challenge_hash)
            .filter(|c| is_live(c.expires_at, now)))
    }
}

/// The existing account a challenge acts on, if any (a sign-up's account does not exist yet).
fn challenge_user(action: &ChallengeAction) -> Option<&UserId> {
    match action {
        ChallengeAction::SignUp { .. } => None,
        ChallengeAction::ResetPassword { user_id }
        | ChallengeAction::SignIn { user_id }
        | ChallengeAction::ChangeEmail { user_id } => Some(user_id),
    }
}
