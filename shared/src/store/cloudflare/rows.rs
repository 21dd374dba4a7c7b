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

/// A user row read together with the revocation check of one of its sessions: the session
/// check's one D1 query. Its own type, so no other read can be mistaken for "not revoked".
#[derive(Deserialize)]
pub(super) struct CheckedUserRow {
    revoked: i64,
    id: String,
    email: String,
    password_hash: Option<String>,
    created_at: i64,
    session_epoch: i64,
    email_verified: i64,
    totp: i64,
    passkeys: i64,
}

impl CheckedUserRow {
    /// Whether the session is revoked, and the user.
    pub(super) fn into_parts(self) -> StoreResult<(bool, UserRecord)> {
        let revoked = flag(self.revoked, "session check revoked")?;
        let user = UserRow {
            id: self.id,
            email: self.email,
            password_hash: self.password_hash,
            created_at: self.created_at,
            session_epoch: self.session_epoch,
            email_verified: self.email_verified,
            totp: self.totp,
            passkeys: self.passkeys,
        };
        Ok((revoked, user.into_record()?))
    }
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
pub(super) fn unsigned(value: i64, what: &str) -> StoreResult<u64> {
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
    /// Absent on sessions stored before session lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network: Option<String>,
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
            device: s.device.clone(),
            network: s.network.clone(),
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
            device: self.device,
            network: self.network,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct TotpEnrolmentRow {
    secret: String,
    expires_at: i64,
}

impl TotpEnrolmentRow {
    pub(super) fn into_record(self, user_id: &UserId) -> TotpEnrolment {
        TotpEnrolment {
            user_id: user_id.clone(),
            encrypted_secret: self.secret,
            expires_at: UnixTime(self.expires_at),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct TotpRow {
    secret: String,
    last_step: Option<i64>,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TotpRow {
    pub(super) fn into_record(self, user_id: &UserId) -> StoreResult<TotpFactor> {
        Ok(TotpFactor {
            user_id: user_id.clone(),
            encrypted_secret: self.secret,
            last_step: self
                .last_step
                .map(|s| unsigned(s, "TOTP factor last_step"))
                .transpose()?,
            created_at: UnixTime(self.created_at),
            last_used_at: self.last_used_at.map(UnixTime),
        })
    }
}

/// One row of the recovery-code read: the set's `created_at`, and one unused code's hash
/// (NULL when the set has none left).
#[derive(Deserialize)]
pub(super) struct RecoveryRow {
    created_at: i64,
    code_hash: Option<String>,
}

/// The user's recovery codes from the rows of their set (none: no set).
pub(super) fn recovery_codes(
    user_id: &UserId,
    rows: Vec<RecoveryRow>,
) -> StoreResult<Option<RecoveryCodes>> {
    let Some(created_at) = rows.first().map(|r| r.created_at) else {
        return Ok(None);
    };
    let code_hashes = rows
        .into_iter()
        .filter_map(|r| r.code_hash)
        .map(|h| {
            TokenHash::from_hex(&h).ok_or_else(|| StoreError::Corrupt("recovery code hash".into()))
        })
        .collect::<StoreResult<_>>()?;
    Ok(Some(RecoveryCodes {
        user_id: user_id.clone(),
        code_hashes,
        created_at: UnixTime(created_at),
    }))
}

pub(super) const PASSKEY_COLUMNS: &str = "credential_id, user_id, id, public_key, sign_count, transports, \
     backup_eligible, backed_up, name, created_at, last_used_at";

#[derive(Deserialize)]
pub(super) struct PasskeyRow {
    credential_id: String,
    user_id: String,
    id: String,
    public_key: String,
    sign_count: i64,
    transports: String,
    backup_eligible: i64,
    backed_up: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl PasskeyRow {
    pub(super) fn into_record(self) -> StoreResult<Passkey> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("passkey {what}"));
        Ok(Passkey {
            user_id: UserId::from_stored(self.user_id),
            id: FactorId::from_stored(self.id),
            credential_id: crate::crypto::b64url_decode(&self.credential_id)
                .and_then(CredentialId::new)
                .ok_or_else(|| corrupt("credential id"))?,
            public_key: crate::crypto::b64url_decode(&self.public_key)
                .ok_or_else(|| corrupt("public key"))?,
            sign_count: u32::try_from(self.sign_count)
                .map_err(|_| corrupt("sign count is out of range"))?,
            transports: serde_json::from_str(&self.transports)
                .map_err(|_| corrupt("transports is not a list of names"))?,
            backup_eligible: flag(self.backup_eligible, "passkey backup_eligible")?,
            backed_up: flag(self.backed_up, "passkey backed_up")?,
            name: self.name,
            created_at: UnixTime(self.created_at),
            last_used_at: self.last_used_at.map(UnixTime),
        })
    }
}

/// A passkey as D1 values, in [`PASSKEY_COLUMNS`] order.
pub(super) fn passkey_values(p: &Passkey) -> Vec<JsValue> {
    vec![
        text(&crate::crypto::b64url(p.credential_id.as_bytes())),
        text(p.user_id.as_str()),
        text(p.id.as_str()),
        text(&crate::crypto::b64url(&p.public_key)),
        number(i64::from(p.sign_count)),
        text(&serde_json::to_string(&p.transports).expect("a list of strings serialises")),
        number(i64::from(p.backup_eligible)),
        number(i64::from(p.backed_up)),
        text(&p.name),
        number(p.created_at.0),
        p.last_used_at.map_or(JsValue::NULL, |t| number(t.0)),
    ]
}

pub(super) const PENDING_COLUMNS: &str =
    "token_hash, user_id, user_epoch, first_factor, failures, created_at, expires_at";

#[derive(Deserialize)]
pub(super) struct PendingRow {
    token_hash: String,
    user_id: String,
    user_epoch: i64,
    first_factor: String,
    failures: i64,
    created_at: i64,
    expires_at: i64,
}

impl PendingRow {
    pub(super) fn into_record(self) -> StoreResult<PendingSignIn> {
        Ok(PendingSignIn {
            token_hash: TokenHash::from_hex(&self.token_hash)
                .ok_or_else(|| StoreError::Corrupt("pending sign-in token hash".into()))?,
            user_id: UserId::from_stored(self.user_id),
            user_epoch: unsigned(self.user_epoch, "pending sign-in user_epoch")?,
            first_factor: FirstFactor::from_stored(&self.first_factor)?,
            failures: u32::try_from(self.failures).map_err(|_| {
                StoreError::Corrupt("pending sign-in failures is out of range".into())
            })?,
            created_at: UnixTime(self.created_at),
            expires_at: UnixTime(self.expires_at),
        })
    }
}

/// A pending sign-in as D1 values, in [`PENDING_COLUMNS`] order.
pub(super) fn pending_values(p: &PendingSignIn) -> StoreResult<Vec<JsValue>> {
    Ok(vec![
        text(&p.token_hash.to_hex()),
        text(p.user_id.as_str()),
        number(integer(p.user_epoch, "pending sign-in user_epoch")?),
        text(p.first_factor.to_stored()),
        number(i64::from(p.failures)),
        number(p.created_at.0),
        number(p.expires_at.0),
    ])
}

pub(super) const WEBAUTHN_COLUMNS: &str =
    "challenge_hash, purpose, user_id, user_epoch, pending, expires_at";

#[derive(Deserialize)]
pub(super) struct WebAuthnRow {
    challenge_hash: String,
    purpose: String,
    user_id: Option<String>,
    user_epoch: Option<i64>,
    pending: Option<String>,
    expires_at: i64,
}

impl WebAuthnRow {
    pub(super) fn into_record(self) -> StoreResult<WebAuthnChallenge> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("WebAuthn challenge {what}"));
        let (user_id, user_epoch, pending) = (self.user_id, self.user_epoch, self.pending);
        Ok(WebAuthnChallenge {
            challenge_hash: TokenHash::from_hex(&self.challenge_hash)
                .ok_or_else(|| corrupt("hash"))?,
            purpose: CeremonyPurpose::from_stored(
                &self.purpose,
                || match (user_id, user_epoch) {
                    (Some(id), Some(epoch)) => Ok((
                        UserId::from_stored(id),
                        unsigned(epoch, "WebAuthn challenge user_epoch")?,
                    )),
                    _ => Err(corrupt("registrant")),
                },
                || {
                    pending
                        .as_deref()
                        .and_then(TokenHash::from_hex)
                        .ok_or_else(|| corrupt("pending"))
                },
            )?,
            expires_at: UnixTime(self.expires_at),
        })
    }
}

/// A WebAuthn challenge as D1 values, in [`WEBAUTHN_COLUMNS`] order.
pub(super) fn webauthn_values(c: &WebAuthnChallenge) -> StoreResult<Vec<JsValue>> {
    let stored = c.purpose.to_stored();
    let (user_id, user_epoch) = match stored.registrant {
        Some((id, epoch)) => (
            text(id.as_str()),
            number(integer(epoch, "WebAuthn challenge user_epoch")?),
        ),
        None => (JsValue::NULL, JsValue::NULL),
    };
    Ok(vec![
        text(&c.challenge_hash.to_hex()),
        text(stored.name),
        user_id,
        user_epoch,
        stored.pending.map_or(JsValue::NULL, |h| text(&h.to_hex())),
        number(c.expires_at.0),
    ])
}
