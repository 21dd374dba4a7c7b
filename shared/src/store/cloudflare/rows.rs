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
}

impl UserRow {
    pub(super) fn into_record(self) -> StoreResult<UserRecord> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("user {what}"));
        Ok(UserRecord {
            id: UserId::from_stored(self.id),
            email: Email::from_stored(self.email),
            password_hash: self.password_hash.map(PasswordHashString::from_stored),
            created_at: UnixTime(self.created_at),
            session_epoch: u64::try_from(self.session_epoch).map_err(|_| corrupt("epoch"))?,
        })
    }
}

#[derive(Deserialize)]
pub(super) struct AttemptRow {
    pub(super) binding_hash: String,
    pub(super) provider: String,
    pub(super) return_to: String,
    pub(super) wants_json: i64,
    pub(super) expires_at: i64,
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
        let status = match (self.status.as_str(), self.user_id, self.user_epoch.and_then(|e| u64::try_from(e).ok())) {
            ("pending", ..) => DeviceStatus::Pending,
            ("approved", Some(id), Some(user_epoch)) => DeviceStatus::Approved { user_id: UserId::from_stored(id), user_epoch },
            ("denied", ..) => DeviceStatus::Denied,
            ("consumed", ..) => DeviceStatus::Consumed,
            _ => return Err(corrupt("status")),
        };
        Ok(DeviceAuthorization {
            device_code_hash: TokenHash::from_hex(&self.device_code_hash).ok_or_else(|| corrupt("hash"))?,
            user_code_hash: TokenHash::from_hex(&self.user_code_hash).ok_or_else(|| corrupt("user code hash"))?,
            client_id: self.client_id,
            scope: self.scope,
            status,
            interval_secs: u64::try_from(self.interval_secs).map_err(|_| corrupt("interval"))?,
            last_polled_at: self.last_polled_at.map(UnixTime),
            expires_at: UnixTime(self.expires_at),
            version: u64::try_from(self.version).map_err(|_| corrupt("version"))?,
            created_at: UnixTime(self.created_at),
            requested_from: self.requested_from,
        })
    }
}

pub(super) const DEVICE_COLUMNS: &str = "device_code_hash, user_code_hash, client_id, scope, status, user_id, interval_secs, \
     last_polled_at, version, expires_at, user_epoch, created_at, requested_from";

pub(super) fn device_status(status: &DeviceStatus) -> (&'static str, Option<&str>, JsValue) {
    match status {
        DeviceStatus::Pending => ("pending", None, JsValue::NULL),
        DeviceStatus::Approved { user_id, user_epoch } => ("approved", Some(user_id.as_str()), number(*user_epoch as i64)),
        DeviceStatus::Denied => ("denied", None, JsValue::NULL),
        DeviceStatus::Consumed => ("consumed", None, JsValue::NULL),
    }
}

pub(super) fn device_values(auth: &DeviceAuthorization) -> Vec<JsValue> {
    let (status, user_id, user_epoch) = device_status(&auth.status);
    vec![
        text(&auth.device_code_hash.to_hex()),
        text(&auth.user_code_hash.to_hex()),
        text(&auth.client_id),
        text(&auth.scope),
        text(status),
        optional_text(user_id),
        number(auth.interval_secs as i64),
        auth.last_polled_at.map_or(JsValue::NULL, |t| number(t.0)),
        number(auth.version as i64),
        number(auth.expires_at.0),
        user_epoch,
        number(auth.created_at.0),
        text(&auth.requested_from),
    ]
}

#[derive(Deserialize)]
pub(super) struct RefreshRow {
    pub(super) family_id: String,
    pub(super) user_id: String,
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) user_epoch: i64,
    pub(super) active: i64,
    pub(super) family_expires_at: i64,
    pub(super) expires_at: i64,
}

#[derive(Deserialize)]
pub(super) struct CounterRow {
    count: i64,
    expires_at: i64,
}

impl From<CounterRow> for Counter {
    fn from(row: CounterRow) -> Self {
        Counter { count: u64::try_from(row.count).unwrap_or(0), expires_at: UnixTime(row.expires_at) }
    }
}

/// The KV value of a session: the record minus its key, which is the token hash.
#[derive(serde::Serialize, Deserialize)]
pub(super) struct StoredSession {
    id: String,
    user_id: String,
    user_epoch: u64,
    created_at: i64,
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
            expires_at: s.expires_at.0,
            idle_expires_at: s.idle_expires_at.0,
            renewed_at: s.renewed_at.0,
        }
    }

    pub(super) fn into_record(self, token_hash: TokenHash) -> SessionRecord {
        SessionRecord {
            id: SessionId::from_stored(self.id),
            token_hash,
            user_id: UserId::from_stored(self.user_id),
            user_epoch: self.user_epoch,
            created_at: UnixTime(self.created_at),
            expires_at: UnixTime(self.expires_at),
            idle_expires_at: UnixTime(self.idle_expires_at),
            renewed_at: UnixTime(self.renewed_at),
        }
    }
}
