//! Encoding: D1 rows and KV values to records and back.

use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::*;

pub(super) fn session_key(hash: &TokenHash) -> String {
    format!("session:{}", hash.to_hex())
}

pub(super) fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

pub(super) fn optional_text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

/// D1 numbers cross into JavaScript as doubles: every value stored here (Unix seconds,
/// counts, epochs) is far below 2^53.
#[expect(
    clippy::cast_precision_loss,
    reason = "Unix seconds, counts and epochs stay far below 2^53, where doubles are exact"
)]
pub(super) fn number(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

#[derive(Deserialize)]
pub(super) struct UserRow {
    id: String,
    email: String,
    password_hash: Option<String>,
    created_at: i64,
    session_epoch: i64,
    email_verified: i64,
    /// Absent from rows read without the factor columns: none.
    #[serde(default)]
    totp: i64,
    #[serde(default)]
    passkeys: i64,
}

impl UserRow {
    pub(super) fn into_record(self) -> StoreResult<UserRecord> {
        Ok(UserRecord {
            id: UserId::from_stored(self.id),
            email: Email::from_stored(self.email),
            password_hash: self.password_hash.map(PasswordHashString::from_stored),
            created_at: UnixTime(self.created_at),
            email_verified: flag(self.email_verified, "user email_verified")?,
            session_epoch: unsigned(self.session_epoch, "user session_epoch")?,
            factors: FactorSummary {
                totp: flag(self.totp, "user totp")?,
                passkeys: u32::try_from(self.passkeys)
                    .map_err(|_| StoreError::Corrupt("user passkeys is out of range".into()))?,
            },
        })
    }
}

/// A D1 boolean, stored as 0 or 1: any other value is a corrupt row, not a guess.
fn flag(value: i64, what: &str) -> StoreResult<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::Corrupt(format!("{what} is not 0 or 1"))),
    }
}

/// A D1 integer that must not be negative (counts, epochs, intervals, versions).
fn unsigned(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative")))
}

/// The other way: a count, epoch or version as a D1 integer. Every one was read through
/// [`unsigned`] and then at most incremented, so one past `i64::MAX` is a corrupt record.
pub(super) fn integer(value: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("{what} is beyond D1's integer range")))
}

/// What D1 says of a session read from KV (`CloudflareStore::is_refused`).
#[derive(Deserialize)]
pub(super) struct SessionCheck {
    revoked: i64,
    user_epoch: Option<i64>,
}

impl SessionCheck {
    pub(super) fn revoked(&self) -> StoreResult<bool> {
        flag(self.revoked, "session check revoked")
    }

    /// The user's current epoch; `None` if no such user exists.
    pub(super) fn user_epoch(&self) -> StoreResult<Option<u64>> {
        self.user_epoch
            .map(|e| unsigned(e, "user session_epoch"))
            .transpose()
    }
}

#[derive(Deserialize)]
pub(super) struct AttemptRow {
    binding_hash: String,
    provider: String,
    return_to: String,
    wants_json: i64,
    expires_at: i64,
}

impl AttemptRow {
    pub(super) fn into_attempt(self, key: TokenHash) -> StoreResult<FederationAttempt> {
        Ok(FederationAttempt {
            key,
            binding_hash: TokenHash::from_hex(&self.binding_hash)
                .ok_or_else(|| StoreError::Corrupt("federation attempt binding hash".into()))?,
            provider: self.provider,
            return_to: self.return_to,
            wants_json: flag(self.wants_json, "federation attempt wants_json")?,
            expires_at: UnixTime(self.expires_at),
        })
    }
}

#[derive(Deserialize)]
pub(super) struct DeviceRow {
    device_code_hash: String,
    user_code_hash: String,
    client_id: String,
    scope: String,
    status: String,
    user_id: Option<String>,
    user_epoch: Option<i64>,
    interval_secs: i64,
    last_polled_at: Option<i64>,
    version: i64,
    expires_at: i64,
    created_at: i64,
    requested_from: String,
}

impl DeviceRow {
    pub(super) fn into_record(self) -> StoreResult<DeviceAuthorization> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("device authorization {what}"));
        let (user_id, user_epoch) = (self.user_id, self.user_epoch);
        let status = DeviceStatus::from_stored(&self.status, || match (user_id, user_epoch) {
            (Some(id), Some(epoch)) => Ok((
                UserId::from_stored(id),
                unsigned(epoch, "device authorization user_epoch")?,
            )),
            _ => Err(corrupt("approval")),
        })?;
        Ok(DeviceAuthorization {
            device_code_hash: TokenHash::from_hex(&self.device_code_hash)
                .ok_or_else(|| corrupt("hash"))?,
            user_code_hash: TokenHash::from_hex(&self.user_code_hash)
                .ok_or_else(|| corrupt("user code hash"))?,
            client_id: self.client_id.into(),
            scope: self.scope.into(),
            status,
            interval: std::time::Duration::from_secs(unsigned(
                self.interval_secs,
                "device authorization interval",
            )?),
            last_polled_at: self.last_polled_at.map(UnixTime),
            expires_at: UnixTime(self.expires_at),
            version: unsigned(self.version, "device authorization version")?,
            created_at: UnixTime(self.created_at),
            requested_from: self.requested_from,
        })
    }
}

pub(super) const DEVICE_COLUMNS: &str = "device_code_hash, user_code_hash, client_id, scope, status, user_id, interval_secs, \
     last_polled_at, version, expires_at, user_epoch, created_at, requested_from";

/// A device status as three D1 values: its name, the approving user (or NULL) and their
/// epoch (or NULL).
pub(super) fn device_status(status: &DeviceStatus) -> StoreResult<[JsValue; 3]> {
    let (name, approval) = status.to_stored();
    Ok(match approval {
        Some((user_id, user_epoch)) => [
            text(name),
            text(user_id.as_str()),
            number(integer(user_epoch, "device authorization user_epoch")?),
        ],
        None => [text(name), JsValue::NULL, JsValue::NULL],
    })
}

pub(super) fn device_values(auth: &DeviceAuthorization) -> StoreResult<Vec<JsValue>> {
    let [status, user_id, user_epoch] = device_status(&auth.status)?;
    Ok(vec![
        text(&auth.device_code_hash.to_hex()),
        text(&auth.user_code_hash.to_hex()),
        text(auth.client_id.as_str()),
        text(auth.scope.as_str()),
        status,
        user_id,
        number(i64::try_from(auth.interval.as_secs()).unwrap_or(i64::MAX)),
        auth.last_polled_at.map_or(JsValue::NULL, |t| number(t.0)),
        number(integer(auth.version, "device authorization version")?),
        number(auth.expires_at.0),
        user_epoch,
        number(auth.created_at.0),
        text(&auth.requested_from),
    ])
}

#[derive(Deserialize)]
pub(super) struct RefreshRow {
    family_id: String,
    user_id: String,
    client_id: String,
    scope: String,
    user_epoch: i64,
    active: i64,
    family_expires_at: i64,
    expires_at: i64,
}

impl RefreshRow {
    pub(super) fn into_record(self, token_hash: TokenHash) -> StoreResult<RefreshTokenRecord> {
        Ok(RefreshTokenRecord {
            token_hash,
            family_id: self.family_id,
            user_id: UserId::from_stored(self.user_id),
            client_id: self.client_id.into(),
            scope: self.scope.into(),
            user_epoch: unsigned(self.user_epoch, "refresh token user_epoch")?,
            active: flag(self.active, "refresh token active")?,
            family_expires_at: UnixTime(self.family_expires_at),
            expires_at: UnixTime(self.expires_at),
        })
    }
}

#[derive(Deserialize)]
pub(super) struct CounterRow {
    count: i64,
    expires_at: i64,
}

impl CounterRow {
    pub(super) fn into_counter(self) -> StoreResult<Counter> {
        Ok(Counter {
            count: unsigned(self.count, "counter count")?,
            expires_at: UnixTime(self.expires_at),
        })
    }
}

const SIGN_UP: &str = "sign-up";
const RESET_PASSWORD: &str = "reset-password";
const SIGN_IN: &str = "sign-in";
const CHANGE_EMAIL: &str = "change-email";

#[derive(Deserialize)]
pub(super) struct ChallengeRow {
    key: String,
    email: String,
    token_hash: String,
    code_hash: String,
    failures: i64,
    action: String,
    user_id: String,
    password_hash: Option<String>,
    created_at: i64,
    expires_at: i64,
}

pub(super) const CHALLENGE_COLUMNS: &str = "key, email, token_hash, code_hash, failures, action, user_id, password_hash, created_at, expires_at";

impl ChallengeRow {
    pub(super) fn into_challenge(self) -> StoreResult<EmailChallenge> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("challenge {what}"));
        let user_id = UserId::from_stored(self.user_id);
        let action = match (self.action.as_str(), self.password_hash) {
            (SIGN_UP, Some(hash)) => ChallengeAction::SignUp {
                user_id,
                password_hash: PasswordHashString::from_stored(hash),
            },
            (RESET_PASSWORD, None) => ChallengeAction::ResetPassword { user_id },
            (SIGN_IN, None) => ChallengeAction::SignIn { user_id },
            (CHANGE_EMAIL, None) => ChallengeAction::ChangeEmail { user_id },
            // Only a sign-up carries a password hash, and it always does.
            _ => {
                return Err(corrupt(
                    "action is unknown or does not fit its password hash",
                ));
            }
        };
        Ok(EmailChallenge {
            key: ChallengeKey::from_stored(self.key),
            email: Email::from_stored(self.email),
            token_hash: TokenHash::from_hex(&self.token_hash)
                .ok_or_else(|| corrupt("token hash"))?,
            code_hash: TokenHash::from_hex(&self.code_hash).ok_or_else(|| corrupt("code hash"))?,
            failures: u32::try_from(self.failures)
                .map_err(|_| corrupt("failures is out of range"))?,
            action,
            created_at: UnixTime(self.created_at),
            expires_at: UnixTime(self.expires_at),
        })
    }
}

/// What `UPDATE challenges … RETURNING failures` answers.
#[derive(Deserialize)]
pub(super) struct FailuresRow {
    failures: i64,
}

impl FailuresRow {
    pub(super) fn failures(&self) -> StoreResult<u32> {
        u32::try_from(self.failures)
            .map_err(|_| StoreError::Corrupt("challenge failures is out of range".into()))
    }
}

/// What `UPDATE users … RETURNING session_epoch` answers.
#[derive(Deserialize)]
pub(super) struct EpochRow {
    session_epoch: i64,
}

impl EpochRow {
    pub(super) fn epoch(&self) -> StoreResult<u64> {
        unsigned(self.session_epoch, "user session_epoch")
    }
}

/// A challenge as D1 values, in [`CHALLENGE_COLUMNS`] order.
pub(super) fn challenge_values(c: &EmailChallenge) -> Vec<JsValue> {
    let (action, user_id, password_hash) = match &c.action {
        ChallengeAction::SignUp {
            user_id,
            password_hash,
        } => (SIGN_UP, user_id, Some(password_hash.as_str())),
        ChallengeAction::ResetPassword { user_id } => (RESET_PASSWORD, user_id, None),
        ChallengeAction::SignIn { user_id } => (SIGN_IN, user_id, None),
        ChallengeAction::ChangeEmail { user_id } => (CHANGE_EMAIL, user_id, None),
    };
    vec![
        text(c.key.as_str()),
        text(c.email.as_str()),
        text(&c.token_hash.to_hex()),
        text(&c.code_hash.to_hex()),
        number(i64::from(c.failures)),
        text(action),
        text(user_id.as_str()),
        optional_text(password_hash),
        number(c.created_at.0),
        number(c.expires_at.0),
    ]
}

/// The KV value of a session: the record minus its key, which is the token hash.
#[derive(serde::Serialize, Deserialize)]
pub(super) struct StoredSession {
    id: String,
    user_id: String,
    user_epoch: u64,
    created_at: i64,
    /// Absent on sessions stored before step-up: `created_at`.
    #[serde(default)]
    authenticated_at: Option<i64>,
    expires_at: i64,
    idle_expires_at: i64,
    renewed_at: i64,
}

impl StoredSession {
    pub(super) fn from_record(s: &SessionRecord) -> Self {
        StoredSession {
            id: s.id.as_str().to_owned(),
            user_id: s.user_id.as_str().to_owned(),
            user_epoch: s.user_epoch,
            created_at: s.created_at.0,
            authenticated_at: Some(s.authenticated_at.0),
            expires_at: s.expires_at.0,
            idle_expires_at: s.idle_expires_at.0,
            renewed_at: s.renewed_at.0,
        }
    }

    /// Reads a KV value back. A value that does not parse is corrupt; the error does not
    /// quote it.
    pub(super) fn parse(value: &str, token_hash: TokenHash) -> StoreResult<SessionRecord> {
        let stored: StoredSession = serde_json::from_str(value)
            .map_err(|_| StoreError::Corrupt("session record in KV is not a session".into()))?;
        Ok(stored.into_record(token_hash))
    }

    fn into_record(self, token_hash: TokenHash) -> SessionRecord {
        SessionRecord {
            id: SessionId::from_stored(self.id),
            token_hash,
            user_id: UserId::from_stored(self.user_id),
            user_epoch: self.user_epoch,
            created_at: UnixTime(self.created_at),
            authenticated_at: UnixTime(self.authenticated_at.unwrap_or(self.created_at)),
            expires_at: UnixTime(self.expires_at),
            idle_expires_at: UnixTime(self.idle_expires_at),
            renewed_at: UnixTime(self.renewed_at),
        }
    }
}
