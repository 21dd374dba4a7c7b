//! The [`Store`] trait over the table: every check-then-write is one conditional write or
//! transaction.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};

use super::factor_items::*;
use super::items::*;
use super::requests::Transaction;
use super::*;

/// How often the increment loop may lose the race to recreate an expired counter. Each loss
/// means another writer just made a live counter, so the next update almost surely lands.
const INCREMENT_ATTEMPTS: usize = 5;
/// The attribute where a counter keeps the mark of the write that last changed it.
const COUNTER_MARK: &str = "mark";

/// A user id [`UserId::generate`] never makes (its ids are 22 characters): the key of the read that
/// an address without an account makes in place of its user's.
const NO_USER: &str = "no-user";
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Store for DynamoStore {
    fn usage(&self) -> Option<&UsageMeter> {
        Some(&self.usage)
    }

    async fn create_user(
        &self,
        user: &UserRecord,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        // The email claim is what makes sign-up unique: two transactions putting the same
        // EMAIL# item cannot both find it absent. All three items are written or none is.
        let absent = Some("attribute_not_exists(pk)");
        self.transact_insert(vec![
            self.transact_put(email_item(user), absent)?,
            self.transact_put(user_item(user), absent)?,
            // A token hash is 256 random bits: it needs no uniqueness check.
            self.transact_put(session_item(first_session), None)?,
        ])
        .await
    }

    async fn create_federated_user(
        &self,
        user: &UserRecord,
        identity: &FederatedIdentity,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert> {
        let absent = Some("attribute_not_exists(pk)");
        self.transact_insert(vec![
            self.transact_put(email_item(user), absent)?,
            self.transact_put(identity_item(identity, &user.id), absent)?,
            self.transact_put(user_item(user), absent)?,
            self.transact_put(session_item(first_session), None)?,
        ])
        .await
    }

    async fn user_by_identity(
        &self,
        identity: &FederatedIdentity,
    ) -> StoreResult<Option<UserRecord>> {
        let Some(link) = self.get(identity_key(identity)).await? else {
            return Ok(None);
        };
        let user_id = UserId::from_stored(Decoder::new("identity", &link).string("user_id")?);
        match self.user_by_id(&user_id).await? {
            Some(user) => Ok(Some(user)),
            None => Err(StoreError::Corrupt("identity points to no user".into())),
        }
    }

    async fn link_identity(
        &self,
        identity: &FederatedIdentity,
        user_id: &UserId,
    ) -> StoreResult<Insert> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(identity_item(identity, user_id)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Insert::Inserted),
            Err(err) if condition_failed(&err) => Ok(Insert::AlreadyExists),
            Err(err) => Err(unavailable("PutItem", err)),
        }
    }

    async fn put_federation_attempt(&self, attempt: &FederationAttempt) -> StoreResult<()> {
        self.put(attempt_item(attempt)).await
    }

    async fn take_federation_attempt(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<FederationAttempt>> {
        // DeleteItem returning the old item is atomic: of two concurrent callbacks with one
        // state, only one gets the item back.
        let Some(item) = self.take(attempt_key(key)).await? else {
            return Ok(None);
        };
        let attempt = decode_attempt(key, &item)?;
        Ok(is_live(attempt.expires_at, now).then_some(attempt))
    }

    async fn create_device_authorization(
        &self,
        auth: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<Insert> {
        // The user code is claimed by its own item, which an expired claim does not block
        // (DynamoDB may not have deleted it yet).
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                (PK.into(), s(user_code_key(&auth.user_code_hash))),
                ("device_code_hash".into(), s(auth.device_code_hash.to_hex())),
                (TTL.into(), time(auth.expires_at)),
            ])))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":now", time(now));
        self.transact_insert(vec![
            TransactWriteItem::builder()
                .put(built(claim.build())?)
                .build(),
            self.transact_put(device_item(auth), Some("attribute_not_exists(pk)"))?,
        ])
        .await
    }

    async fn device_authorization(
        &self,
        device_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let Some(item) = self.get(device_key(device_code_hash)).await? else {
            return Ok(None);
        };
        if !item.contains_key("user_code_hash") {
            // Written before user codes were hashed (it lives minutes): no one can find it by
            // its code any more, so it reads as gone rather than as a broken record.
            return Ok(None);
        }
        let auth = decode_device(device_code_hash, &item)?;
        Ok(is_live(auth.expires_at, now).then_some(auth))
    }

    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let Some(claim) = self.get(user_code_key(user_code_hash)).await? else {
            return Ok(None);
        };
        let d = Decoder::new("user code", &claim);
        if !is_live(d.time(TTL)?, now) {
            return Ok(None);
        }
        let hash = TokenHash::from_hex(&d.string("device_code_hash")?)
            .ok_or_else(|| d.corrupt("device_code_hash", "is not a hash"))?;
        self.device_authorization(&hash, now).await
    }

    async fn update_device_authorization(&self, auth: &DeviceAuthorization) -> StoreResult<bool> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(device_item(auth)))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(auth.version - 1))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("PutItem", err)),
        }
    }

    async fn decide_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        decision: &DeviceStatus,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // Conditioned on the status, not the version: polls bump the version but never the
        // status, so they cannot make the user's answer fail.
        if !matches!(
            decision,
            DeviceStatus::Approved { .. } | DeviceStatus::Denied
        ) {
            return Err(StoreError::Corrupt(
                "a device answer must be approved or denied".into(),
            ));
        }
        let (status, approval) = decision.to_stored();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(device_key(device_code_hash)))
            .condition_expression("#status = :pending AND #ttl > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":pending", s(DeviceStatus::STORED_PENDING))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":status", s(status));
        let update = match approval {
            Some((user_id, user_epoch)) => update
                .update_expression(
                    "SET #status = :status, user_id = :user, user_epoch = :epoch ADD #version :one",
                )
                .expression_attribute_values(":user", s(user_id.as_str()))
                .expression_attribute_values(":epoch", n(user_epoch)),
            None => update.update_expression("SET #status = :status ADD #version :one"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        self.put(refresh_item(token)).await
    }

    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let Some(item) = self.get(refresh_key(token_hash)).await? else {
            return Ok(None);
        };
        let token = decode_refresh(token_hash, &item)?;
        Ok(is_live(token.expires_at, now).then_some(token))
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshTokenRecord,
    ) -> StoreResult<Rotation> {
        let retire = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(PK, s(refresh_key(old)))
            .update_expression("SET active = :false")
            .condition_expression("active = :true")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true));
        // A revoked family has a `FAMILY#` item until its end: checked in the same
        // transaction, so a revocation cannot slip between a check and the rotation.
        let not_revoked = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .key(PK, s(family_key(&new.family_id)))
            .condition_expression("attribute_not_exists(pk)");
        let items = vec![
            TransactWriteItem::builder()
                .update(built(retire.build())?)
                .build(),
            self.transact_put(refresh_item(new), Some("attribute_not_exists(pk)"))?,
            TransactWriteItem::builder()
                .condition_check(built(not_revoked.build())?)
                .build(),
        ];
        Ok(match self.transact_insert(items).await? {
            Insert::Inserted => Rotation::Rotated,
            Insert::AlreadyExists => Rotation::AlreadyUsed,
        })
    }

    async fn revoke_token_family(&self, family_id: &str, until: UnixTime) -> StoreResult<()> {
        self.put(HashMap::from([
            (PK.into(), s(family_key(family_id))),
            ("revoked".into(), AttributeValue::Bool(true)),
            (TTL.into(), time(until)),
        ]))
        .await
    }

    async fn is_token_family_revoked(&self, family_id: &str, now: UnixTime) -> StoreResult<bool> {
        let Some(item) = self.get(family_key(family_id)).await? else {
            return Ok(false);
        };
        Ok(is_live(Decoder::new("token family", &item).time(TTL)?, now))
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        let Some(claim) = self.get(email_key(email)).await? else {
            // An address with an account costs two round trips (claim, then user); one
            // without must cost the same, or the answer's time says which it is (sign-in,
            // sign-up, forgot…). The second read is of a user id no account can have.
            let _no_one = self
                .get(user_key(&UserId::from_stored(NO_USER.into())))
                .await?;
            return Ok(None);
        };
        let user_id = UserId::from_stored(Decoder::new("email claim", &claim).string("user_id")?);
        match self.user_by_id(&user_id).await? {
            Some(user) => Ok(Some(user)),
            // The two are only ever written together, in one transaction.
            None => Err(StoreError::Corrupt("email claim points to no user".into())),
        }
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.get(user_key(id))
            .await?
            .map(|item| decode_user(id, &item))
            .transpose()
    }

    async fn put_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.put(session_item(session)).await
    }

    async fn session(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let Some(item) = self.get(session_key(token_hash)).await? else {
            return Ok(None);
        };
        let session = decode_session(token_hash, &item)?;
        let live = is_live(session.idle_expires_at, now) && is_live(session.expires_at, now);
        Ok(live.then_some(session))
    }

    async fn session_and_user(
        &self,
        token_hash: &TokenHash,
        user: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        // One strongly consistent BatchGetItem for both: the session check of every page load
        // pays one round trip, not a read of the session and then of its user.
        let (session_pk, user_pk) = (session_key(token_hash), user_key(user));
        let items = self
            .get_all(vec![session_pk.clone(), user_pk.clone()])
            .await?;
        let item = |pk: &str| {
            items
                .iter()
                .find(|item| matches!(item.get(PK), Some(AttributeValue::S(k)) if k == pk))
        };
        let (Some(session_item), Some(user_item)) = (item(&session_pk), item(&user_pk)) else {
            return Ok(None);
        };
        let session = decode_session(token_hash, session_item)?;
        let live = is_live(session.idle_expires_at, now) && is_live(session.expires_at, now);
        if !live || session.user_id != *user {
            return Ok(None);
        }
        Ok(Some((session, decode_user(user, user_item)?)))
    }

    async fn renew_session(
        &self,
        token_hash: &TokenHash,
        renewed_at: UnixTime,
        idle_expires_at: UnixTime,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(session_key(token_hash)))
            .update_expression("SET renewed_at = :renewed, idle_expires_at = :idle, #ttl = :idle")
            // Without the condition an update creates the item: a renewal racing a sign-out
            // would bring back a half-empty session.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":renewed", time(renewed_at))
            .expression_attribute_values(":idle", time(idle_expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The session is gone: there is nothing to renew.
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn delete_session(&self, token_hash: &TokenHash, _now: UnixTime) -> StoreResult<()> {
        self.delete(session_key(token_hash)).await
    }

    async fn revoke_all_sessions(&self, user_id: &UserId) -> StoreResult<()> {
        // The epoch bump is the revocation: from this write on, every existing session of the
        // user carries a stale epoch. Deleting the records afterwards is only tidying up.
        let bumped = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_key(user_id)))
            .update_expression("ADD session_epoch :one")
            // Without the condition ADD would create a user item with only an epoch.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match bumped {
            // No such user: there is no epoch to bump, but stray sessions may still be tidied.
            Err(err) if condition_failed(&err) => {}
            Err(err) => return Err(unavailable("UpdateItem", err)),
            Ok(_) => {}
        }
        let keys = self.session_keys_of(user_id).await?;
        self.delete_all(keys).await
    }

    async fn increment(
        &self,
        key: &CounterKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<Counter> {
        let pk = counter_key(key);
        // This call's mark on the counter. The SDK sends a write again when its answer is lost
        // (an attempt that timed out may still have been applied), and an ADD applied twice
        // counts one failed sign-in as two: a user locked out early. UpdateItem takes no
        // idempotency token (only transactions do, at twice the cost), so each write leaves
        // its mark and refuses to apply over it; a refusal is then told apart from a lost
        // race by reading the mark back.
        let mark = crate::crypto::random_array::<12>()
            .map(|b| crate::crypto::b64url(&b))
            .map_err(|e| {
                StoreError::Unavailable(crate::error::context("counter mark", e.to_string()))
            })?;
        let applied = |item: Option<Item>| -> StoreResult<Option<Counter>> {
            match item {
                Some(item) if item.get(COUNTER_MARK).and_then(|v| v.as_s().ok()) == Some(&mark) => {
                    decode_counter(&item).map(Some)
                }
                _ => Ok(None),
            }
        };
        for _ in 0..INCREMENT_ATTEMPTS {
            // The common case: the counter is live, and ADD increments it atomically.
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .update_expression("ADD #count :one SET #mark = :mark")
                .condition_expression(
                    "attribute_exists(pk) AND #ttl > :now AND (attribute_not_exists(#mark) OR #mark <> :mark)",
                )
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_names("#mark", COUNTER_MARK)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", time(now))
                .expression_attribute_values(":mark", s(&mark))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match updated {
                Ok(out) => return decode_counter(&out.attributes.unwrap_or_default()),
                Err(err) if condition_failed(&err) => {
                    // Our own earlier attempt, applied though its answer was lost?
                    if let Some(counter) = applied(self.get(pk.clone()).await?)? {
                        return Ok(counter);
                    }
                }
                Err(err) => return Err(unavailable("UpdateItem", err)),
            }
            // Absent or expired: start a new window, unless another writer just did so.
            let fresh = Counter {
                count: 1,
                expires_at,
            };
            let mut item = counter_item(key, fresh);
            item.insert(COUNTER_MARK.into(), s(&mark));
            let created = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", time(now))
                .send()
                .await;
            match created {
                Ok(_) => return Ok(fresh),
                // Lost the race to a writer that made a live counter (or to our own put,
                // applied though its answer was lost): add to theirs.
                Err(err) if condition_failed(&err) => {
                    if let Some(counter) = applied(self.get(pk.clone()).await?)? {
                        return Ok(counter);
                    }
                }
                Err(err) => return Err(unavailable("PutItem", err)),
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB counter too contended to increment".into(),
        ))
    }

    async fn counter(&self, key: &CounterKey, now: UnixTime) -> StoreResult<Option<Counter>> {
        let Some(item) = self.get(counter_key(key)).await? else {
            return Ok(None);
        };
        let counter = decode_counter(&item)?;
        Ok(is_live(counter.expires_at, now).then_some(counter))
    }

    async fn put_counter(&self, key: &CounterKey, counter: Counter) -> StoreResult<()> {
        self.put(counter_item(key, counter)).await
    }

    async fn delete_counter(&self, key: &CounterKey) -> StoreResult<()> {
        self.delete(counter_key(key)).await
    }

    async fn put_challenge(&self, challenge: &EmailChallenge) -> StoreResult<()> {
        // The challenge replaces whatever its key held; the replaced one's token item stays
        // until its TTL, pointing at a key whose token is no longer its own, so it finds
        // nothing. Together, so a link is never mailed for a challenge its token cannot find.
        let items = vec![
            self.transact_put(challenge_item(challenge), None)?,
            self.transact_put(challenge_token_item(challenge), None)?,
        ];
        match self.transact(items).await? {
            Transaction::Written => Ok(()),
            Transaction::Refused(_) => Err(StoreError::Unavailable(
                "DynamoDB refused an unconditional write".into(),
            )),
        }
    }

    async fn challenge(
        &self,
        key: &ChallengeKey,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>> {
        let Some(item) = self.get(challenge_key(key)).await? else {
            return Ok(None);
        };
        let challenge = decode_challenge(key, &item)?;
        Ok(is_live(challenge.expires_at, now).then_some(challenge))
    }

    async fn challenge_by_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>> {
        // Two strongly consistent reads, not an index: a link followed the moment its mail
        // arrives must find the challenge, and a global index may not have it yet.
        let Some(pointer) = self.get(challenge_token_key(token_hash)).await? else {
            return Ok(None);
        };
        let key = ChallengeKey::from_stored(
            Decoder::new("challenge token", &pointer).string("challenge_key")?,
        );
        let challenge = self.challenge(&key, now).await?;
        Ok(challenge.filter(|c| c.token_hash == *token_hash))
    }

    async fn count_challenge_failure(
        &self,
        proof: &ChallengeProof,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        // Only while the challenge is still this one and live.
        self.count_failure(
            "challenge",
            challenge_key(&proof.key),
            LIVE_CHALLENGE,
            live_challenge_names(),
            live_challenge_values(proof, now),
            max_failures,
        )
        .await
    }

    async fn take_challenge(&self, proof: &ChallengeProof, now: UnixTime) -> StoreResult<bool> {
        // Its token item stays until its TTL: it points at a key that no longer holds it.
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(challenge_key(&proof.key)))
            .condition_expression(LIVE_CHALLENGE)
            .set_expression_attribute_names(Some(live_challenge_names()))
            .set_expression_attribute_values(Some(live_challenge_values(proof, now)))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("DeleteItem", err)),
        }
    }

    async fn complete_sign_up(
        &self,
        proof: &ChallengeProof,
        user: &UserRecord,
        first_session: &SessionRecord,
        now: UnixTime,
    ) -> StoreResult<SignUpOutcome> {
        // create_user's three items, and the challenge's delete, in one transaction.
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            self.transact_take_challenge(proof, now)?,
            self.transact_put(email_item(user), absent)?,
            self.transact_put(user_item(user), absent)?,
            self.transact_put(session_item(first_session), None)?,
        ];
        Ok(match self.transact(items).await? {
            Transaction::Written => SignUpOutcome::Created,
            // The challenge first: a used link is answered as used, whoever has the address.
            Transaction::Refused(failed) if failed.at(0) => SignUpOutcome::ChallengeGone,
            Transaction::Refused(_) => SignUpOutcome::EmailTaken,
        })
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &PasswordHashString,
        proof: Option<&ChallengeProof>,
        now: UnixTime,
    ) -> StoreResult<Option<u64>> {
        let epoch = match proof {
            None => self.set_password_alone(user_id, password_hash).await?,
            Some(proof) => {
                self.set_password_taking(user_id, password_hash, proof, now)
                    .await?
            }
        };
        if epoch.is_some() {
            // The new epoch has ended every session already; deleting their records is
            // tidying up, and its failure must not report a change that was made as failed.
            if let Ok(keys) = self.session_keys_of(user_id).await {
                let _tidied = self.delete_all(keys).await;
            }
        }
        Ok(epoch)
    }

    async fn change_email(
        &self,
        proof: &ChallengeProof,
        user_id: &UserId,
        new_email: &Email,
        now: UnixTime,
    ) -> StoreResult<EmailChange> {
        for _ in 0..USER_ATTEMPTS {
            // The old claim's key comes from the user as read; the write holds only while the
            // user still has that address.
            let Some(user) = self.user_by_id(user_id).await? else {
                return Ok(EmailChange::ChallengeGone);
            };
            if user.email.hash() == new_email.hash() {
                // Its own address has an account (its own). One transaction cannot both put
                // and delete that claim, so nothing is written and the answer comes from a read.
                let live = self
                    .challenge(&proof.key, now)
                    .await?
                    .is_some_and(|c| c.token_hash == proof.token_hash);
                return Ok(if live {
                    EmailChange::EmailTaken
                } else {
                    EmailChange::ChallengeGone
                });
            }
            let moved = Update::builder()
                .table_name(&self.table)
                .key(PK, s(user_key(user_id)))
                .update_expression("SET #email = :new, email_verified = :true")
                // Holds only while the user exists.
                .condition_expression("#email = :old")
                .expression_attribute_names("#email", "email")
                .expression_attribute_values(":new", s(new_email.as_str()))
                .expression_attribute_values(":old", s(user.email.as_str()))
                .expression_attribute_values(":true", AttributeValue::Bool(true));
            let released = Delete::builder()
                .table_name(&self.table)
                .key(PK, s(email_key(&user.email)))
                .condition_expression("user_id = :user")
                .expression_attribute_values(":user", s(user_id.as_str()));
            let claimed = UserRecord {
                email: new_email.clone(),
                ..user
            };
            let items = vec![
                self.transact_take_challenge(proof, now)?,
                TransactWriteItem::builder()
                    .update(built(moved.build())?)
                    .build(),
                self.transact_put(email_item(&claimed), Some("attribute_not_exists(pk)"))?,
                TransactWriteItem::builder()
                    .delete(built(released.build())?)
                    .build(),
            ];
            match self.transact(items).await? {
                Transaction::Written => return Ok(EmailChange::Changed),
                // The challenge first: a used link is answered as used, whoever has the address.
                Transaction::Refused(failed) if failed.at(0) => {
                    return Ok(EmailChange::ChallengeGone);
                }
                // The user went, or moved, since the read: read again.
                Transaction::Refused(failed) if failed.at(1) => {}
                Transaction::Refused(failed) if failed.at(2) => return Ok(EmailChange::EmailTaken),
                Transaction::Refused(_) => {
                    return Err(StoreError::Corrupt(
                        "user's email claim names another user".into(),
                    ));
                }
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB user too contended to change its address".into(),
        ))
    }

    async fn delete_user(&self, user: &UserRecord) -> StoreResult<bool> {
        for _ in 0..USER_ATTEMPTS {
            // The user as stored, not as the caller last saw it: its address is what to release.
            let Some(stored) = self.user_by_id(&user.id).await? else {
                return Ok(false);
            };
            // Dependents first, so an outage part-way leaves a user that can be deleted again.
            let dependents = self.dependents_of(&stored).await?;
            self.delete_all(dependents.into_iter().collect()).await?;
            let account = Delete::builder()
                .table_name(&self.table)
                .key(PK, s(user_key(&stored.id)))
                .condition_expression("#email = :email")
                .expression_attribute_names("#email", "email")
                .expression_attribute_values(":email", s(stored.email.as_str()));
            let claim = Delete::builder()
                .table_name(&self.table)
                .key(PK, s(email_key(&stored.email)))
                .condition_expression("user_id = :user")
                .expression_attribute_values(":user", s(stored.id.as_str()));
            let items = vec![
                TransactWriteItem::builder()
                    .delete(built(account.build())?)
                    .build(),
                TransactWriteItem::builder()
                    .delete(built(claim.build())?)
                    .build(),
            ];
            match self.transact(items).await? {
                Transaction::Written => {
                    // Anything of the user's written while the above ran (a sign-in in flight),
                    // or too new for the index then, names a user that is gone: tidying up,
                    // whose failure must not report the deletion that was made as failed.
                    if let Ok(entries) = self.index_entries_of(&stored.id, None).await {
                        let _tidied = self
                            .delete_all(index_keys(entries).into_iter().collect())
                            .await;
                    }
                    return Ok(true);
                }
                // Gone (a concurrent deletion) or moved to another address since the read.
                Transaction::Refused(failed) if failed.at(0) => {}
                Transaction::Refused(_) => {
                    return Err(StoreError::Corrupt(
                        "user's email claim names another user".into(),
                    ));
                }
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB user too contended to delete".into(),
        ))
    }

    async fn mark_email_verified(&self, user_id: &UserId, email: &Email) -> StoreResult<bool> {
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_key(user_id)))
            .update_expression("SET email_verified = :true")
            // Only while the user exists and still has the address the mail went to.
            .condition_expression("#email = :email")
            .expression_attribute_names("#email", "email")
            .expression_attribute_values(":email", s(email.as_str()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match marked {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn put_totp_enrolment(&self, enrolment: &TotpEnrolment) -> StoreResult<()> {
        self.put(totp_enrolment_item(enrolment)).await
    }

    async fn totp_enrolment(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<TotpEnrolment>> {
        let Some(item) = self.get(totp_enrolment_key(user_id)).await? else {
            return Ok(None);
        };
        let enrolment = decode_totp_enrolment(user_id, &item)?;
        Ok(is_live(enrolment.expires_at, now).then_some(enrolment))
    }

    async fn confirm_totp(
        &self,
        enrolment: &TotpEnrolment,
        factor: &TotpFactor,
        codes: &RecoveryCodes,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // The enrolment's secret names it: a replaced one has another (random nonces).
        let take = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(totp_enrolment_key(&enrolment.user_id)))
            .condition_expression("secret = :secret AND #ttl > :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":secret", s(&enrolment.encrypted_secret))
            .expression_attribute_values(":now", time(now));
        // Holds only while the user exists with TOTP off: of two confirmations, the second
        // finds it on (or the enrolment gone).
        let turn_on = Update::builder()
            .table_name(&self.table)
            .key(PK, s(user_key(&factor.user_id)))
            .update_expression("SET totp = :true")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(totp) OR totp = :false)",
            )
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        let items = vec![
            TransactWriteItem::builder()
                .delete(built(take.build())?)
                .build(),
            TransactWriteItem::builder()
                .update(built(turn_on.build())?)
                .build(),
            self.transact_put(totp_item(factor), None)?,
            self.transact_put(recovery_item(codes), None)?,
        ];
        Ok(matches!(self.transact(items).await?, Transaction::Written))
    }

    async fn totp_factor(&self, user_id: &UserId) -> StoreResult<Option<TotpFactor>> {
        self.get(totp_key(user_id))
            .await?
            .map(|item| decode_totp(user_id, &item))
            .transpose()
    }

    async fn accept_totp_step(
        &self,
        user_id: &UserId,
        step: u64,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // Compare-and-set on the last step: of two requests with one code, one finds it set.
        let accepted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(totp_key(user_id)))
            .update_expression("SET last_step = :step, last_used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_step) OR last_step < :step)",
            )
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":now", time(now))
            .send()
            .await;
        match accepted {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn remove_totp(&self, user_id: &UserId) -> StoreResult<bool> {
        let remove = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(totp_key(user_id)))
            .condition_expression("attribute_exists(pk)");
        let turn_off = Update::builder()
            .table_name(&self.table)
            .key(PK, s(user_key(user_id)))
            .update_expression("SET totp = :false")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        let items = vec![
            TransactWriteItem::builder()
                .delete(built(remove.build())?)
                .build(),
            TransactWriteItem::builder()
                .update(built(turn_off.build())?)
                .build(),
        ];
        Ok(matches!(self.transact(items).await?, Transaction::Written))
    }

    async fn recovery_codes(&self, user_id: &UserId) -> StoreResult<Option<RecoveryCodes>> {
        self.get(recovery_key(user_id))
            .await?
            .map(|item| decode_recovery(user_id, &item))
            .transpose()
    }

    async fn replace_recovery_codes(&self, codes: &RecoveryCodes) -> StoreResult<()> {
        self.put(recovery_item(codes)).await
    }

    async fn take_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &TokenHash,
    ) -> StoreResult<bool> {
        // One conditional update: of two takers of one code, the second finds it gone.
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(recovery_key(user_id)))
            .update_expression("DELETE code_hashes :codes")
            .condition_expression("contains(code_hashes, :code)")
            .expression_attribute_values(":codes", AttributeValue::Ss(vec![code_hash.to_hex()]))
            .expression_attribute_values(":code", s(code_hash.to_hex()))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn delete_recovery_codes(&self, user_id: &UserId) -> StoreResult<()> {
        self.delete(recovery_key(user_id)).await
    }

    async fn add_passkey(
        &self,
        passkey: &Passkey,
        first_codes: Option<&RecoveryCodes>,
    ) -> StoreResult<PasskeyInsert> {
        // The passkey's own item is the credential id's claim: two registrations of one id
        // cannot both find it absent.
        let condition = if first_codes.is_some() {
            "attribute_exists(pk) AND (attribute_not_exists(totp) OR totp = :false) \
             AND (attribute_not_exists(passkeys) OR passkeys = :zero)"
        } else {
            "attribute_exists(pk)"
        };
        let count = Update::builder()
            .table_name(&self.table)
            .key(PK, s(user_key(&passkey.user_id)))
            .update_expression("ADD passkeys :one, #entries :entry")
            .condition_expression(condition)
            .expression_attribute_names("#entries", PASSKEY_ENTRIES)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(
                ":entry",
                AttributeValue::Ss(vec![passkey_entry(&passkey.id, &passkey.credential_id)]),
            );
        let count = if first_codes.is_some() {
            count
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .expression_attribute_values(":zero", n(0))
        } else {
            count
        };
        let mut items = vec![
            self.transact_put(passkey_item(passkey), Some("attribute_not_exists(pk)"))?,
            TransactWriteItem::builder()
                .update(built(count.build())?)
                .build(),
        ];
        if let Some(codes) = first_codes {
            items.push(self.transact_put(recovery_item(codes), None)?);
        }
        Ok(match self.transact(items).await? {
            Transaction::Written => PasskeyInsert::Inserted,
            Transaction::Refused(failed) if failed.at(0) => PasskeyInsert::CredentialTaken,
            Transaction::Refused(_) => PasskeyInsert::FactorsChanged,
        })
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &CredentialId,
    ) -> StoreResult<Option<Passkey>> {
        self.get(passkey_key(credential_id))
            .await?
            .map(|item| decode_passkey(&item))
            .transpose()
    }

    async fn passkeys_of(&self, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
        let mut found = Vec::new();
        for (_, pk) in self.passkey_entries_of(user_id).await? {
            if let Some(item) = self.get(pk).await? {
                let passkey = decode_passkey(&item)?;
                if &passkey.user_id == user_id {
                    found.push(passkey);
                }
            }
        }
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
        let Some(pk) = self.passkey_item_key(user_id, id).await? else {
            return Ok(false);
        };
        // Compare-and-set on the count the caller read: of two assertions, one lands.
        let used = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .update_expression("SET sign_count = :new, bs = :bs, last_used_at = :now")
            .condition_expression("user_id = :user AND factor_id = :id AND sign_count = :old")
            .expression_attribute_values(":new", n(new_count))
            .expression_attribute_values(":bs", AttributeValue::Bool(backed_up))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":user", s(user_id.as_str()))
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":old", n(old_count))
            .send()
            .await;
        match used {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn rename_passkey(
        &self,
        user_id: &UserId,
        id: &FactorId,
        name: &str,
    ) -> StoreResult<bool> {
        let Some(pk) = self.passkey_item_key(user_id, id).await? else {
            return Ok(false);
        };
        let renamed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .update_expression("SET #name = :name")
            // Without it an update of a passkey removed meanwhile would make a half item.
            .condition_expression("user_id = :user AND factor_id = :id")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .expression_attribute_values(":user", s(user_id.as_str()))
            .expression_attribute_values(":id", s(id.as_str()))
            .send()
            .await;
        match renamed {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    async fn remove_passkey(&self, user_id: &UserId, id: &FactorId) -> StoreResult<bool> {
        let Some(pk) = self.passkey_item_key(user_id, id).await? else {
            return Ok(false);
        };
        let entry = format!("{} {pk}", id.as_str());
        let remove = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .condition_expression("user_id = :user AND factor_id = :id")
            .expression_attribute_values(":user", s(user_id.as_str()))
            .expression_attribute_values(":id", s(id.as_str()));
        // Conditioned on the entry, so of two removals only one takes one from the count.
        let uncount = Update::builder()
            .table_name(&self.table)
            .key(PK, s(user_key(user_id)))
            .update_expression("ADD passkeys :minus_one DELETE #entries :entries")
            .condition_expression("contains(#entries, :entry)")
            .expression_attribute_names("#entries", PASSKEY_ENTRIES)
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":entries", AttributeValue::Ss(vec![entry.clone()]))
            .expression_attribute_values(":entry", s(entry));
        let items = vec![
            TransactWriteItem::builder()
                .delete(built(remove.build())?)
                .build(),
            TransactWriteItem::builder()
                .update(built(uncount.build())?)
                .build(),
        ];
        Ok(matches!(self.transact(items).await?, Transaction::Written))
    }

    async fn put_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()> {
        self.put(pending_item(pending)).await
    }

    async fn pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        let Some(item) = self.get(pending_key(token_hash)).await? else {
            return Ok(None);
        };
        let pending = decode_pending(token_hash, &item)?;
        Ok(is_live(pending.expires_at, now).then_some(pending))
    }

    async fn count_pending_failure(
        &self,
        token_hash: &TokenHash,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        self.count_failure(
            "pending sign-in",
            pending_key(token_hash),
            "#ttl > :now",
            HashMap::from([("#ttl".into(), TTL.into())]),
            HashMap::from([(":now".into(), time(now))]),
            max_failures,
        )
        .await
    }

    async fn take_pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        // DeleteItem returning the old item: of two takers, only one gets it back.
        let Some(item) = self.take(pending_key(token_hash)).await? else {
            return Ok(None);
        };
        let pending = decode_pending(token_hash, &item)?;
        Ok(is_live(pending.expires_at, now).then_some(pending))
    }

    async fn put_webauthn_challenge(&self, challenge: &WebAuthnChallenge) -> StoreResult<()> {
        self.put(webauthn_item(challenge)).await
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
        let Some(item) = self.take(webauthn_key(challenge_hash)).await? else {
            return Ok(None);
        };
        let challenge = decode_webauthn(challenge_hash, &item)?;
        Ok(is_live(challenge.expires_at, now).then_some(challenge))
    }
}

/// The table keys a user's index entries name: each entry's own item, and for a refresh
/// token its family's revocation (its `gsi1sk`).
fn index_keys(entries: Vec<(String, String)>) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (pk, gsi1sk) in entries {
        if pk.starts_with(REFRESH_PREFIX) {
            keys.insert(gsi1sk);
        }
        keys.insert(pk);
    }
    keys
}

/// The condition that a challenge's item still holds the challenge a proof names, live.
const LIVE_CHALLENGE: &str = "#token_hash = :token_hash AND #ttl > :now";

fn live_challenge_names() -> HashMap<String, String> {
    HashMap::from([
        ("#token_hash".into(), "token_hash".into()),
        ("#ttl".into(), TTL.into()),
    ])
}

fn live_challenge_values(proof: &ChallengeProof, now: UnixTime) -> Item {
    HashMap::from([
        (":token_hash".into(), s(proof.token_hash.to_hex())),
        (":now".into(), time(now)),
    ])
}

/// How often [`DynamoStore::set_password_taking`] rereads a user whose epoch moved between its
/// read and its write (a concurrent sign-out everywhere).
const EPOCH_ATTEMPTS: usize = 5;

/// How often an email change or a deletion rereads a user that moved to another address (or
/// went) between its read and its write.
const USER_ATTEMPTS: usize = 3;

impl DynamoStore {
    /// The keys of every item that names the user, its address or its address's hash, except
    /// the user and its email claim: from its index partition (sessions, identities, refresh
    /// tokens and their families' revocations, challenges acting on it and their token items),
    /// and by key (the challenges under its address and its id, whichever user they act on,
    /// with their current token items, and the counters keyed by its address).
    async fn dependents_of(&self, user: &UserRecord) -> StoreResult<BTreeSet<String>> {
        let mut keys = index_keys(self.index_entries_of(&user.id, None).await?);
        let challenges = [
            ChallengeKey::sign_up(&user.email),
            ChallengeKey::password_reset(&user.email),
            ChallengeKey::sign_in_code(&user.email),
            ChallengeKey::email_change(&user.id),
        ];
        for key in &challenges {
            let pk = challenge_key(key);
            // Read, not only deleted: the index may not have its token item yet.
            if let Some(item) = self.get(pk.clone()).await? {
                keys.insert(challenge_token_key(
                    &Decoder::new("challenge", &item).hash("token_hash")?,
                ));
                keys.insert(pk);
            }
        }
        for counter in [
            CounterKey::sign_in_attempts(&user.email),
            CounterKey::mail_to(&user.email),
        ] {
            keys.insert(counter_key(&counter));
        }
        // Its factors by key, and its passkeys (their credential id claims) as the user item
        // names them: neither waits on the index.
        keys.extend([
            totp_key(&user.id),
            totp_enrolment_key(&user.id),
            recovery_key(&user.id),
        ]);
        keys.extend(
            self.passkey_entries_of(&user.id)
                .await?
                .into_iter()
                .map(|(_, pk)| pk),
        );
        Ok(keys)
    }

    /// The user's passkeys as its item names them (factor id, passkey item key): a strongly
    /// consistent read, unlike the index.
    async fn passkey_entries_of(&self, user_id: &UserId) -> StoreResult<Vec<(String, String)>> {
        Ok(self
            .get(user_key(user_id))
            .await?
            .map(|user| passkey_entries(&user))
            .unwrap_or_default())
    }

    /// The key of the user's passkey item with this factor id.
    async fn passkey_item_key(
        &self,
        user_id: &UserId,
        id: &FactorId,
    ) -> StoreResult<Option<String>> {
        Ok(self
            .passkey_entries_of(user_id)
            .await?
            .into_iter()
            .find(|(entry_id, _)| entry_id == id.as_str())
            .map(|(_, pk)| pk))
    }

    /// Counts one failure (`failures`) on the item `pk` while the condition `live` holds
    /// (with its `names` and `values`); the failure that reaches `max_failures` deletes the
    /// item instead. Returns the failures counted, or `None` if the item was gone (or `live`
    /// did not hold). Of concurrent failures each is counted once.
    async fn count_failure(
        &self,
        kind: &'static str,
        pk: String,
        live: &str,
        names: HashMap<String, String>,
        values: Item,
        max_failures: u32,
    ) -> StoreResult<Option<u32>> {
        let last = max_failures.saturating_sub(1);
        // Below the last allowed failure: ADD counts it, atomically.
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .update_expression("ADD #failures :one")
            .condition_expression(format!("{live} AND #failures < :last"))
            .set_expression_attribute_names(Some(names.clone()))
            .expression_attribute_names("#failures", "failures")
            .set_expression_attribute_values(Some(values.clone()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":last", n(last))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match counted {
            Ok(out) => {
                let failures =
                    Decoder::new(kind, &out.attributes.unwrap_or_default()).number("failures")?;
                return Ok(Some(failures));
            }
            Err(err) if condition_failed(&err) => {}
            Err(err) => return Err(unavailable("UpdateItem", err)),
        }
        // Gone, or this is the last failure: then it deletes the item. Of concurrent failures
        // at the last count, only one finds it to delete; the others find it gone.
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .condition_expression(format!("{live} AND #failures >= :last"))
            .set_expression_attribute_names(Some(names))
            .expression_attribute_names("#failures", "failures")
            .set_expression_attribute_values(Some(values))
            .expression_attribute_values(":last", n(last))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match deleted {
            Ok(out) => {
                let before: u32 =
                    Decoder::new(kind, &out.attributes.unwrap_or_default()).number("failures")?;
                Ok(Some(before.saturating_add(1)))
            }
            Err(err) if condition_failed(&err) => Ok(None),
            Err(err) => Err(unavailable("DeleteItem", err)),
        }
    }

    /// Deletes the challenge a proof names, in a transaction, if it is still that one and live.
    fn transact_take_challenge(
        &self,
        proof: &ChallengeProof,
        now: UnixTime,
    ) -> StoreResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(challenge_key(&proof.key)))
            .condition_expression(LIVE_CHALLENGE)
            .set_expression_attribute_names(Some(live_challenge_names()))
            .set_expression_attribute_values(Some(live_challenge_values(proof, now)));
        Ok(TransactWriteItem::builder()
            .delete(built(delete.build())?)
            .build())
    }

    /// A password change: one conditional update, which returns the epoch it made.
    async fn set_password_alone(
        &self,
        user_id: &UserId,
        password_hash: &PasswordHashString,
    ) -> StoreResult<Option<u64>> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_key(user_id)))
            .update_expression("SET password_hash = :hash ADD session_epoch :one")
            // Without the condition the update would create a user with only these.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":hash", s(password_hash.as_str()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match updated {
            Ok(out) => Ok(Some(
                Decoder::new("user", &out.attributes.unwrap_or_default())
                    .number("session_epoch")?,
            )),
            Err(err) if condition_failed(&err) => Ok(None),
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    /// A reset: the update and the challenge's delete in one transaction. A transaction returns
    /// no values, so the new epoch is set from a read, conditioned on the epoch read: the epoch
    /// returned is the one this write made, never a later one.
    async fn set_password_taking(
        &self,
        user_id: &UserId,
        password_hash: &PasswordHashString,
        proof: &ChallengeProof,
        now: UnixTime,
    ) -> StoreResult<Option<u64>> {
        for _ in 0..EPOCH_ATTEMPTS {
            let Some(user) = self.user_by_id(user_id).await? else {
                return Ok(None);
            };
            let epoch = user.session_epoch + 1;
            let update = Update::builder()
                .table_name(&self.table)
                .key(PK, s(user_key(user_id)))
                .update_expression(
                    "SET password_hash = :hash, session_epoch = :epoch, email_verified = :true",
                )
                // Holds only while the user exists.
                .condition_expression("session_epoch = :seen")
                .expression_attribute_values(":hash", s(password_hash.as_str()))
                .expression_attribute_values(":epoch", n(epoch))
                .expression_attribute_values(":seen", n(user.session_epoch))
                .expression_attribute_values(":true", AttributeValue::Bool(true));
            let items = vec![
                TransactWriteItem::builder()
                    .update(built(update.build())?)
                    .build(),
                self.transact_take_challenge(proof, now)?,
            ];
            match self.transact(items).await? {
                Transaction::Written => return Ok(Some(epoch)),
                Transaction::Refused(failed) if failed.at(1) => return Ok(None),
                // The epoch moved, or the user went: read again.
                Transaction::Refused(_) => {}
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB user too contended to set its password".into(),
        ))
    }
}
