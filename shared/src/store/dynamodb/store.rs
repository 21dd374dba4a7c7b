//! The [`Store`] trait over the table: every check-then-write is one conditional write or
//! transaction.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};

use super::items::*;
use super::requests::Transaction;
use super::*;

/// How often the increment loop may lose the race to recreate an expired counter. Each loss
/// means another writer just made a live counter, so the next update almost surely lands.
const INCREMENT_ATTEMPTS: usize = 5;

/// A user id [`UserId::generate`] never makes (its ids are 22 characters): the key of the read that
/// an address without an account makes in place of its user's.
const NO_USER: &str = "no-user";
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Store for DynamoStore {
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
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(attempt_key(key)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        let Some(item) = out.attributes else {
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
        for _ in 0..INCREMENT_ATTEMPTS {
            // The common case: the counter is live, and ADD increments it atomically.
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .update_expression("ADD #count :one")
                .condition_expression("attribute_exists(pk) AND #ttl > :now")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", time(now))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match updated {
                Ok(out) => return decode_counter(&out.attributes.unwrap_or_default()),
                Err(err) if condition_failed(&err) => {}
                Err(err) => return Err(unavailable("UpdateItem", err)),
            }
            // Absent or expired: start a new window, unless another writer just did so.
            let fresh = Counter {
                count: 1,
                expires_at,
            };
            let created = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(counter_item(key, fresh)))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", time(now))
                .send()
                .await;
            match created {
                Ok(_) => return Ok(fresh),
                // Lost the race to a writer that made a live counter: add to theirs.
                Err(err) if condition_failed(&err) => {}
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
        let last = max_failures.saturating_sub(1);
        // Below the last allowed failure: ADD counts it, atomically, if the challenge is still
        // this one and live.
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(challenge_key(&proof.key)))
            .update_expression("ADD #failures :one")
            .condition_expression(format!("{LIVE_CHALLENGE} AND #failures < :last"))
            .set_expression_attribute_names(Some(live_challenge_names()))
            .expression_attribute_names("#failures", "failures")
            .set_expression_attribute_values(Some(live_challenge_values(proof, now)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":last", n(last))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match counted {
            Ok(out) => {
                let failures = Decoder::new("challenge", &out.attributes.unwrap_or_default())
                    .number("failures")?;
                return Ok(Some(failures));
            }
            Err(err) if condition_failed(&err) => {}
            Err(err) => return Err(unavailable("UpdateItem", err)),
        }
        // Gone, or this is the last failure: then it deletes the challenge. Of concurrent
        // wrong codes at the last count, only one finds it to delete; the others find it gone.
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(challenge_key(&proof.key)))
            .condition_expression(format!("{LIVE_CHALLENGE} AND #failures >= :last"))
            .set_expression_attribute_names(Some(live_challenge_names()))
            .expression_attribute_names("#failures", "failures")
            .set_expression_attribute_values(Some(live_challenge_values(proof, now)))
            .expression_attribute_values(":last", n(last))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match deleted {
            Ok(out) => {
                let before: u32 = Decoder::new("challenge", &out.attributes.unwrap_or_default())
                    .number("failures")?;
                Ok(Some(before.saturating_add(1)))
            }
            Err(err) if condition_failed(&err) => Ok(None),
            Err(err) => Err(unavailable("DeleteItem", err)),
        }
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

    async fn put_totp_enrolment(&self, _enrolment: &TotpEnrolment) -> StoreResult<()> {
        Err(unbuilt("put_totp_enrolment"))
    }

    async fn totp_enrolment(
        &self,
        _user_id: &UserId,
        _now: UnixTime,
    ) -> StoreResult<Option<TotpEnrolment>> {
        Err(unbuilt("totp_enrolment"))
    }

    async fn confirm_totp(
        &self,
        _enrolment: &TotpEnrolment,
        _factor: &TotpFactor,
        _codes: &RecoveryCodes,
        _now: UnixTime,
    ) -> StoreResult<bool> {
        Err(unbuilt("confirm_totp"))
    }

    async fn totp_factor(&self, _user_id: &UserId) -> StoreResult<Option<TotpFactor>> {
        Err(unbuilt("totp_factor"))
    }

    async fn accept_totp_step(
        &self,
        _user_id: &UserId,
        _step: u64,
        _now: UnixTime,
    ) -> StoreResult<bool> {
        Err(unbuilt("accept_totp_step"))
    }

    async fn remove_totp(&self, _user_id: &UserId) -> StoreResult<bool> {
        Err(unbuilt("remove_totp"))
    }

    async fn recovery_codes(&self, _user_id: &UserId) -> StoreResult<Option<RecoveryCodes>> {
        Err(unbuilt("recovery_codes"))
    }

    async fn replace_recovery_codes(&self, _codes: &RecoveryCodes) -> StoreResult<()> {
        Err(unbuilt("replace_recovery_codes"))
    }

    async fn take_recovery_code(
        &self,
        _user_id: &UserId,
        _code_hash: &TokenHash,
    ) -> StoreResult<bool> {
        Err(unbuilt("take_recovery_code"))
    }

    async fn delete_recovery_codes(&self, _user_id: &UserId) -> StoreResult<()> {
        Err(unbuilt("delete_recovery_codes"))
    }

    async fn add_passkey(
        &self,
        _passkey: &Passkey,
        _first_codes: Option<&RecoveryCodes>,
    ) -> StoreResult<PasskeyInsert> {
        Err(unbuilt("add_passkey"))
    }

    async fn passkey_by_credential(
        &self,
        _credential_id: &CredentialId,
    ) -> StoreResult<Option<Passkey>> {
        Err(unbuilt("passkey_by_credential"))
    }

    async fn passkeys_of(&self, _user_id: &UserId) -> StoreResult<Vec<Passkey>> {
        Err(unbuilt("passkeys_of"))
    }

    async fn use_passkey(
        &self,
        _user_id: &UserId,
        _id: &FactorId,
        _old_count: u32,
        _new_count: u32,
        _backed_up: bool,
        _now: UnixTime,
    ) -> StoreResult<bool> {
        Err(unbuilt("use_passkey"))
    }

    async fn rename_passkey(
        &self,
        _user_id: &UserId,
        _id: &FactorId,
        _name: &str,
    ) -> StoreResult<bool> {
        Err(unbuilt("rename_passkey"))
    }

    async fn remove_passkey(&self, _user_id: &UserId, _id: &FactorId) -> StoreResult<bool> {
        Err(unbuilt("remove_passkey"))
    }

    async fn put_pending_sign_in(&self, _pending: &PendingSignIn) -> StoreResult<()> {
        Err(unbuilt("put_pending_sign_in"))
    }

    async fn pending_sign_in(
        &self,
        _token_hash: &TokenHash,
        _now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        Err(unbuilt("pending_sign_in"))
    }

    async fn count_pending_failure(
        &self,
        _token_hash: &TokenHash,
        _max_failures: u32,
        _now: UnixTime,
    ) -> StoreResult<Option<u32>> {
        Err(unbuilt("count_pending_failure"))
    }

    async fn take_pending_sign_in(
        &self,
        _token_hash: &TokenHash,
        _now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>> {
        Err(unbuilt("take_pending_sign_in"))
    }

    async fn put_webauthn_challenge(&self, _challenge: &WebAuthnChallenge) -> StoreResult<()> {
        Err(unbuilt("put_webauthn_challenge"))
    }

    async fn take_webauthn_challenge(
        &self,
        _challenge_hash: &TokenHash,
        _now: UnixTime,
    ) -> StoreResult<Option<WebAuthnChallenge>> {
        Err(unbuilt("take_webauthn_challenge"))
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
        Ok(keys)
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

/// PLACEHOLDER until the factor records are built for this store: every such operation
/// answers "unavailable", so nothing half-works.
fn unbuilt(operation: &'static str) -> StoreError {
    StoreError::Unavailable(crate::error::context(
        operation,
        "second factors are not built for this store yet",
    ))
}
