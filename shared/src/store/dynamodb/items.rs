//! Item encoding: the keys of each record kind, records to items and back.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;

use super::*;

pub(super) fn user_key(id: &UserId) -> String {
    format!("USER#{id}")
}

pub(super) fn email_key(email: &Email) -> String {
    format!("EMAIL#{}", email.hash().to_hex())
}

/// What every session's `pk` (and so its `gsi1sk`) begins with.
pub(super) const SESSION_PREFIX: &str = "SESSION#";

pub(super) fn session_key(token_hash: &TokenHash) -> String {
    format!("{SESSION_PREFIX}{}", token_hash.to_hex())
}

pub(super) fn identity_key(identity: &FederatedIdentity) -> String {
    format!("IDENTITY#{}", identity.key().to_hex())
}

pub(super) fn attempt_key(key: &TokenHash) -> String {
    format!("FEDERATION#{}", key.to_hex())
}

pub(super) fn device_key(hash: &TokenHash) -> String {
    format!("DEVICE#{}", hash.to_hex())
}

pub(super) fn user_code_key(hash: &TokenHash) -> String {
    format!("USERCODE#{}", hash.to_hex())
}

/// What every refresh token's `pk` begins with.
pub(super) const REFRESH_PREFIX: &str = "REFRESH#";

pub(super) fn refresh_key(hash: &TokenHash) -> String {
    format!("{REFRESH_PREFIX}{}", hash.to_hex())
}

pub(super) fn family_key(family_id: &str) -> String {
    format!("FAMILY#{family_id}")
}

pub(super) fn counter_key(key: &CounterKey) -> String {
    format!("COUNTER#{}", key.as_str())
}

pub(super) fn challenge_key(key: &ChallengeKey) -> String {
    format!("CHALLENGE#{}", key.as_str())
}

pub(super) fn challenge_token_key(token_hash: &TokenHash) -> String {
    format!("CHALLENGETOKEN#{}", token_hash.to_hex())
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn time(t: UnixTime) -> AttributeValue {
    n(t.0)
}

pub(super) fn user_item(user: &UserRecord) -> Item {
    let mut item = HashMap::from([
        (PK.into(), s(user_key(&user.id))),
        ("email".into(), s(user.email.as_str())),
        ("created_at".into(), time(user.created_at)),
        ("session_epoch".into(), n(user.session_epoch)),
    ]);
    if let Some(hash) = &user.password_hash {
        item.insert("password_hash".into(), s(hash.as_str()));
    }
    item.insert(
        "email_verified".into(),
        AttributeValue::Bool(user.email_verified),
    );
    item.insert("totp".into(), AttributeValue::Bool(user.factors.totp));
    item.insert("passkeys".into(), n(user.factors.passkeys));
    item
}

pub(super) fn identity_item(identity: &FederatedIdentity, user_id: &UserId) -> Item {
    let pk = identity_key(identity);
    HashMap::from([
        (GSI1PK.into(), s(user_key(user_id))),
        (GSI1SK.into(), s(&pk)),
        (PK.into(), s(pk)),
        ("user_id".into(), s(user_id.as_str())),
        ("issuer".into(), s(&identity.issuer)),
        ("subject".into(), s(&identity.subject)),
    ])
}

pub(super) fn attempt_item(attempt: &FederationAttempt) -> Item {
    HashMap::from([
        (PK.into(), s(attempt_key(&attempt.key))),
        ("binding_hash".into(), s(attempt.binding_hash.to_hex())),
        ("provider".into(), s(&attempt.provider)),
        ("return_to".into(), s(&attempt.return_to)),
        (
            "wants_json".into(),
            AttributeValue::Bool(attempt.wants_json),
        ),
        (TTL.into(), time(attempt.expires_at)),
    ])
}

pub(super) fn device_item(auth: &DeviceAuthorization) -> Item {
    let (status, approval) = auth.status.to_stored();
    let mut item = HashMap::from([
        (PK.into(), s(device_key(&auth.device_code_hash))),
        ("user_code_hash".into(), s(auth.user_code_hash.to_hex())),
        ("created_at".into(), time(auth.created_at)),
        ("requested_from".into(), s(&auth.requested_from)),
        ("client_id".into(), s(auth.client_id.as_str())),
        ("scope".into(), s(auth.scope.as_str())),
        ("status".into(), s(status)),
        ("interval_secs".into(), n(auth.interval.as_secs())),
        ("version".into(), n(auth.version)),
        (TTL.into(), time(auth.expires_at)),
    ]);
    if let Some((user_id, user_epoch)) = approval {
        item.insert("user_id".into(), s(user_id.as_str()));
        item.insert("user_epoch".into(), n(user_epoch));
    }
    if let Some(at) = auth.last_polled_at {
        item.insert("last_polled_at".into(), time(at));
    }
    item
}

pub(super) fn decode_device(hash: &TokenHash, item: &Item) -> StoreResult<DeviceAuthorization> {
    let d = Decoder::new("device authorization", item);
    let status = DeviceStatus::from_stored(&d.string("status")?, || {
        Ok((
            UserId::from_stored(d.string("user_id")?),
            d.number("user_epoch")?,
        ))
    })?;
    Ok(DeviceAuthorization {
        device_code_hash: *hash,
        user_code_hash: TokenHash::from_hex(&d.string("user_code_hash")?)
            .ok_or_else(|| d.corrupt("user_code_hash", "is not a hash"))?,
        client_id: d.string("client_id")?.into(),
        scope: d.string("scope")?.into(),
        status,
        interval: std::time::Duration::from_secs(d.number("interval_secs")?),
        last_polled_at: item
            .get("last_polled_at")
            .map(|_| d.time("last_polled_at"))
            .transpose()?,
        expires_at: d.time(TTL)?,
        version: d.number("version")?,
        created_at: d.time("created_at")?,
        requested_from: d.string("requested_from")?,
    })
}

pub(super) fn refresh_item(token: &RefreshTokenRecord) -> Item {
    HashMap::from([
        (PK.into(), s(refresh_key(&token.token_hash))),
        // Its family's key, not its own: a user's index entries then name the revocations to
        // delete with it (the index is keys only, so it could not give the family otherwise).
        (GSI1PK.into(), s(user_key(&token.user_id))),
        (GSI1SK.into(), s(family_key(&token.family_id))),
        ("family_id".into(), s(&token.family_id)),
        ("user_id".into(), s(token.user_id.as_str())),
        ("client_id".into(), s(token.client_id.as_str())),
        ("scope".into(), s(token.scope.as_str())),
        ("user_epoch".into(), n(token.user_epoch)),
        ("active".into(), AttributeValue::Bool(token.active)),
        ("family_expires_at".into(), time(token.family_expires_at)),
        (TTL.into(), time(token.expires_at)),
    ])
}

pub(super) fn decode_refresh(hash: &TokenHash, item: &Item) -> StoreResult<RefreshTokenRecord> {
    let d = Decoder::new("refresh token", item);
    Ok(RefreshTokenRecord {
        token_hash: *hash,
        family_id: d.string("family_id")?,
        user_id: UserId::from_stored(d.string("user_id")?),
        client_id: d.string("client_id")?.into(),
        scope: d.string("scope")?.into(),
        // Absent on tokens issued before the field existed: epoch 0, as every user began.
        user_epoch: item
            .get("user_epoch")
            .map(|_| d.number("user_epoch"))
            .transpose()?
            .unwrap_or(0),
        active: matches!(item.get("active"), Some(AttributeValue::Bool(true))),
        expires_at: d.time(TTL)?,
        family_expires_at: d.time("family_expires_at")?,
    })
}

pub(super) fn decode_attempt(key: &TokenHash, item: &Item) -> StoreResult<FederationAttempt> {
    let d = Decoder::new("federation attempt", item);
    Ok(FederationAttempt {
        key: *key,
        binding_hash: TokenHash::from_hex(&d.string("binding_hash")?)
            .ok_or_else(|| d.corrupt("binding_hash", "is not a hash"))?,
        provider: d.string("provider")?,
        return_to: d.string("return_to")?,
        wants_json: matches!(item.get("wants_json"), Some(AttributeValue::Bool(true))),
        expires_at: d.time(TTL)?,
    })
}

pub(super) fn email_item(user: &UserRecord) -> Item {
    HashMap::from([
        (PK.into(), s(email_key(&user.email))),
        ("user_id".into(), s(user.id.as_str())),
    ])
}

pub(super) fn session_item(session: &SessionRecord) -> Item {
    let pk = session_key(&session.token_hash);
    let mut item = HashMap::from([
        (GSI1PK.into(), s(user_key(&session.user_id))),
        (GSI1SK.into(), s(&pk)),
        (PK.into(), s(pk)),
        ("session_id".into(), s(session.id.as_str())),
        ("user_id".into(), s(session.user_id.as_str())),
        ("user_epoch".into(), n(session.user_epoch)),
        ("created_at".into(), time(session.created_at)),
        ("expires_at".into(), time(session.expires_at)),
        ("idle_expires_at".into(), time(session.idle_expires_at)),
        ("renewed_at".into(), time(session.renewed_at)),
        ("authenticated_at".into(), time(session.authenticated_at)),
        (TTL.into(), time(session.idle_expires_at)),
    ]);
    if let Some(device) = &session.device {
        item.insert("device".into(), s(device));
    }
    if let Some(network) = &session.network {
        item.insert("network".into(), s(network));
    }
    item
}

pub(super) fn counter_item(key: &CounterKey, counter: Counter) -> Item {
    HashMap::from([
        (PK.into(), s(counter_key(key))),
        ("count".into(), n(counter.count)),
        (TTL.into(), time(counter.expires_at)),
    ])
}

pub(super) fn decode_user(id: &UserId, item: &Item) -> StoreResult<UserRecord> {
    let d = Decoder::new("user", item);
    Ok(UserRecord {
        id: id.clone(),
        email: Email::from_stored(d.string("email")?),
        password_hash: d
            .optional_string("password_hash")?
            .map(PasswordHashString::from_stored),
        created_at: d.time("created_at")?,
        // Absent on users written before addresses were proven: unproven.
        email_verified: d.optional_bool("email_verified")?.unwrap_or(false),
        session_epoch: d.number("session_epoch")?,
        // Absent on users written before factors (and on users who never had one): none.
        factors: FactorSummary {
            totp: d.optional_bool("totp")?.unwrap_or(false),
            passkeys: d.optional_number("passkeys")?.unwrap_or(0),
        },
    })
}

const SIGN_UP: &str = "sign_up";
const RESET_PASSWORD: &str = "reset_password";
const SIGN_IN: &str = "sign_in";
const CHANGE_EMAIL: &str = "change_email";

/// The user a challenge acts on (for a sign-up, the one it would create), whose index
/// partition the challenge and its token item are entered in: deleting the user finds them
/// there, under whichever address they were mailed to.
fn challenge_user(challenge: &EmailChallenge) -> &UserId {
    match &challenge.action {
        ChallengeAction::SignUp { user_id, .. }
        | ChallengeAction::ResetPassword { user_id }
        | ChallengeAction::SignIn { user_id }
        | ChallengeAction::ChangeEmail { user_id } => user_id,
    }
}

pub(super) fn challenge_item(challenge: &EmailChallenge) -> Item {
    let (action, user_id, password_hash) = match &challenge.action {
        ChallengeAction::SignUp {
            user_id,
            password_hash,
        } => (SIGN_UP, user_id, Some(password_hash)),
        ChallengeAction::ResetPassword { user_id } => (RESET_PASSWORD, user_id, None),
        ChallengeAction::SignIn { user_id } => (SIGN_IN, user_id, None),
        ChallengeAction::ChangeEmail { user_id } => (CHANGE_EMAIL, user_id, None),
    };
    let pk = challenge_key(&challenge.key);
    let mut item = HashMap::from([
        (GSI1PK.into(), s(user_key(user_id))),
        (GSI1SK.into(), s(&pk)),
        (PK.into(), s(pk)),
        ("email".into(), s(challenge.email.as_str())),
        ("token_hash".into(), s(challenge.token_hash.to_hex())),
        ("code_hash".into(), s(challenge.code_hash.to_hex())),
        ("failures".into(), n(challenge.failures)),
        ("action".into(), s(action)),
        ("user_id".into(), s(user_id.as_str())),
        ("created_at".into(), time(challenge.created_at)),
        (TTL.into(), time(challenge.expires_at)),
    ]);
    if let Some(hash) = password_hash {
        item.insert("password_hash".into(), s(hash.as_str()));
    }
    item
}

/// Finds a challenge by its link token: names the key the token was issued under. A later
/// challenge under that key does not remove it, so a read must check the token still matches.
pub(super) fn challenge_token_item(challenge: &EmailChallenge) -> Item {
    let pk = challenge_token_key(&challenge.token_hash);
    HashMap::from([
        (GSI1PK.into(), s(user_key(challenge_user(challenge)))),
        (GSI1SK.into(), s(&pk)),
        (PK.into(), s(pk)),
        ("challenge_key".into(), s(challenge.key.as_str())),
        (TTL.into(), time(challenge.expires_at)),
    ])
}

pub(super) fn decode_challenge(key: &ChallengeKey, item: &Item) -> StoreResult<EmailChallenge> {
    let d = Decoder::new("challenge", item);
    let user_id = UserId::from_stored(d.string("user_id")?);
    let action = match d.string("action")?.as_str() {
        SIGN_UP => ChallengeAction::SignUp {
            user_id,
            password_hash: PasswordHashString::from_stored(d.string("password_hash")?),
        },
        RESET_PASSWORD => ChallengeAction::ResetPassword { user_id },
        SIGN_IN => ChallengeAction::SignIn { user_id },
        CHANGE_EMAIL => ChallengeAction::ChangeEmail { user_id },
        _ => return Err(d.corrupt("action", "is unknown")),
    };
    Ok(EmailChallenge {
        key: key.clone(),
        email: Email::from_stored(d.string("email")?),
        token_hash: d.hash("token_hash")?,
        code_hash: d.hash("code_hash")?,
        failures: d.number("failures")?,
        action,
        created_at: d.time("created_at")?,
        expires_at: d.time(TTL)?,
    })
}

pub(super) fn decode_session(token_hash: &TokenHash, item: &Item) -> StoreResult<SessionRecord> {
    let d = Decoder::new("session", item);
    Ok(SessionRecord {
        id: SessionId::from_stored(d.string("session_id")?),
        token_hash: *token_hash,
        user_id: UserId::from_stored(d.string("user_id")?),
        user_epoch: d.number("user_epoch")?,
        created_at: d.time("created_at")?,
        // Absent on sessions written before step-up: their sign-in was all there was.
        authenticated_at: d
            .optional_number("authenticated_at")?
            .map_or(d.time("created_at")?, UnixTime),
        expires_at: d.time("expires_at")?,
        idle_expires_at: d.time("idle_expires_at")?,
        renewed_at: d.time("renewed_at")?,
        // Absent on sessions written before session lists.
        device: d.optional_string("device")?,
        network: d.optional_string("network")?,
    })
}

pub(super) fn decode_counter(item: &Item) -> StoreResult<Counter> {
    let d = Decoder::new("counter", item);
    Ok(Counter {
        count: d.number("count")?,
        expires_at: d.time(TTL)?,
    })
}

/// Reads typed attributes out of an item. Its errors name the record kind and attribute,
/// never a value: items hold emails and password hashes.
pub(super) struct Decoder<'a> {
    kind: &'static str,
    item: &'a Item,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(kind: &'static str, item: &'a Item) -> Self {
        Decoder { kind, item }
    }

    pub(super) fn corrupt(&self, name: &str, problem: &str) -> StoreError {
        StoreError::Corrupt(format!("{} item: attribute {name} {problem}", self.kind))
    }

    pub(super) fn string(&self, name: &str) -> StoreResult<String> {
        match self.item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            Some(_) => Err(self.corrupt(name, "is not a string")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    pub(super) fn optional_string(&self, name: &str) -> StoreResult<Option<String>> {
        match self.item.get(name) {
            None => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    pub(super) fn number<T: FromStr>(&self, name: &str) -> StoreResult<T> {
        match self.item.get(name) {
            Some(AttributeValue::N(v)) => {
                v.parse().map_err(|_| self.corrupt(name, "is out of range"))
            }
            Some(_) => Err(self.corrupt(name, "is not a number")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    pub(super) fn optional_number<T: FromStr>(&self, name: &str) -> StoreResult<Option<T>> {
        match self.item.get(name) {
            None => Ok(None),
            Some(_) => self.number(name).map(Some),
        }
    }

    pub(super) fn time(&self, name: &str) -> StoreResult<UnixTime> {
        self.number(name).map(UnixTime)
    }

    pub(super) fn hash(&self, name: &str) -> StoreResult<TokenHash> {
        TokenHash::from_hex(&self.string(name)?).ok_or_else(|| self.corrupt(name, "is not a hash"))
    }

    pub(super) fn optional_bool(&self, name: &str) -> StoreResult<Option<bool>> {
        match self.item.get(name) {
            None => Ok(None),
            Some(AttributeValue::Bool(v)) => Ok(Some(*v)),
            Some(_) => Err(self.corrupt(name, "is not a boolean")),
        }
    }
}
