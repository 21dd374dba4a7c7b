//! Security events: one typed record per security-relevant fact (a sign-in failed, a refresh
//! token was replayed…), for operators (log lines, an event bus) and for the user (their own
//! activity).
//!
//! A handler records what happened with [`App::record`]; the request's [`Recorder`] keeps it
//! until the answer is ready, then [`App::serve`](crate::App) completes each one with the
//! request's context (time, client, endpoint, request id) and delivers it: to the user's
//! activity in the store, to the event bus if one is configured, and, through the response's
//! extensions, to the runtime adapter that writes the log lines ([`log_lines`]). Delivery
//! never fails the user's request; a failure to deliver is logged instead.
//!
//! What an event may hold is fixed by its type: ids (user, session, client), enums and error
//! codes. Never a token, cookie, password, code or email address: no field can carry one.

pub mod bus;
#[cfg(feature = "dynamodb")]
pub mod eventbridge;
#[cfg(all(feature = "workers", target_arch = "wasm32"))]
pub mod queue;
mod user_agent;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::App;
use crate::clock::UnixTime;
use crate::endpoints::Endpoint;
use crate::request::HttpRequest;
use crate::token::{SessionId, UserId};

pub use bus::{EventBus, EventBusError, QUEUE_BINDING};
pub use user_agent::coarse_user_agent;

/// How long a user's own activity is kept (its records' TTL).
pub const ACTIVITY_RETENTION: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);

/// Declares the event types: `Variant = "name" outcome, in_activity;`.
macro_rules! event_types {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal $outcome:ident $activity:literal;
    )+) => {
        /// What happened. The name (`sign_in.failed`) is the `event` field of the log line,
        /// the bus's detail-type and the activity's `event`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant,
            )+
        }

        impl EventType {
            /// Every type, in the table's order (the README's schema table follows it).
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The type's name, as logged.
            pub fn name(self) -> &'static str {
                match self { $(EventType::$variant => $name,)+ }
            }

            /// What it means, as its documentation says it (the README's event table).
            pub fn description(self) -> &'static str {
                match self { $(EventType::$variant => concat!($($doc),*).trim_start(),)+ }
            }

            /// Whether it is something that went right or a refusal.
            pub fn outcome(self) -> Outcome {
                match self { $(EventType::$variant => Outcome::$outcome,)+ }
            }

            /// Whether the user sees it in their own activity (`GET /auth/activity`). Routine
            /// machinery (a refresh rotation every few minutes) and facts about an account that
            /// no longer exists are for operators only.
            pub fn shows_in_activity(self) -> bool {
                match self { $(EventType::$variant => $activity,)+ }
            }
        }
    };
}

event_types! {
    // Variant                   = "name"                          outcome  in activity
    /// An account was made: a proven sign-up or one made at once with verification off
    /// (`method` password), or a first federated sign-in (federated, with `provider`).
    SignUp                       = "sign_up"                       Success  true;
    /// The account's address was proven: by a sign-up's link or code, or by the first mailed
    /// code or reset of an account made before proofs were required. Not by an email change.
    EmailVerified                = "email.verified"                Success  true;
    /// A session (or, for a token client, a session token) was stored for a sign-in that
    /// proved every factor the account needs. `method` is how the last factor was proven:
    /// password, email_code, password_reset, federated (with `provider`), passkey, totp or
    /// recovery_code; for a new account's first session password, email_verification or
    /// federated. Not for the session a password change replaces (`password.changed`).
    SignInSucceeded              = "sign_in.succeeded"             Success  true;
    /// A first factor passed (`method`) and a pending sign-in waits for the second.
    SecondFactorRequired         = "sign_in.second_factor_required" Success true;
    /// A wrong password (at sign-in, or a step-up's current password), mailed sign-in code or
    /// passkey: `method`, `reason` the error code. With the user id when the account is known
    /// (not for an unknown address, nor a mailed code that matched nothing).
    SignInFailed                 = "sign_in.failed"                Failure  true;
    /// A lockout refused an attempt without checking it, or the failure just told (by its
    /// `sign_in.failed` or `mfa.failed`) used up the budget and locked it: `reason`
    /// `account_locked`, `method` what was tried.
    SignInLocked                 = "sign_in.locked"                Failure  true;
    /// A client was refused for exceeding a rate limit: `reason` the limit's bucket (the
    /// endpoint's, such as `sign-in`; `mail-to` for an address's mail budget). Names no user.
    RateLimited                  = "rate_limited"                  Failure  false;
    /// A second factor was accepted: `method` totp, recovery_code or passkey. The sign-in's
    /// `sign_in.succeeded` follows.
    SecondFactorPassed           = "mfa.passed"                    Success  true;
    /// A wrong second factor: `method`, `reason` the error code (`invalid_code`,
    /// `passkey_rejected`).
    SecondFactorFailed           = "mfa.failed"                    Failure  true;
    /// A session ended. `reason`: `sign_out`; `sign_out_all` (one event, for the session that
    /// asked: every other ended with it); `revoked` (by its owner); `expired` (told by the
    /// first request that presents it after a deadline, while the store still has its record).
    SessionEnded                 = "session.ended"                 Success  true;
    /// The password was changed by its owner; `session` is the one that replaced the session
    /// that asked (every other ended).
    PasswordChanged              = "password.changed"              Success  true;
    /// The password was reset with a mailed link or code (every session ended); the sign-in
    /// that follows has `method` password_reset.
    PasswordReset                = "password.reset"                Success  true;
    /// The account's address was changed (after the new one was proven).
    EmailChanged                 = "email.changed"                 Success  true;
    /// The account was deleted (with the session that asked). For operators only: the
    /// account's activity went with it.
    AccountDeleted               = "account.deleted"               Success  false;
    /// An upstream identity (`provider`) was linked to an existing account by its proven
    /// address; the sign-in's `sign_in.succeeded` follows.
    IdentityLinked               = "identity.linked"               Success  true;
    /// A device code (RFC 8628) was approved by the signed-in user (`client`, and the session
    /// that answered).
    DeviceCodeApproved           = "device_code.approved"          Success  true;
    /// A device code was denied by the signed-in user (`client`, the session that answered).
    DeviceCodeDenied             = "device_code.denied"            Success  true;
    /// Access (and refresh) tokens were issued to a client for a new grant: `method`
    /// device_code.
    TokensIssued                 = "tokens.issued"                 Success  true;
    /// A refresh token was used and replaced (`method` refresh_token).
    RefreshRotated               = "refresh.rotated"               Success  false;
    /// A refresh token already used was presented again: its whole family was revoked
    /// (`reason` refresh_token_reused).
    RefreshReuseDetected         = "refresh.reuse_detected"        Failure  true;
    /// A refresh token's family was revoked by its client (RFC 7009).
    TokenRevoked                 = "token.revoked"                 Success  true;
    /// An OAuth client failed to authenticate. `reason`: `malformed_credentials`,
    /// `unknown_client` (without a client id: it is whatever the caller sent),
    /// `unexpected_secret` (from a public client), `invalid_secret`, `client_locked`.
    ClientAuthFailed             = "client_auth.failed"            Failure  false;
    /// A passkey's signature counter went backwards (a possibly cloned authenticator); the
    /// refusal follows as `sign_in.failed` or `mfa.failed`.
    PasskeySignCountRegressed    = "passkey.sign_count_regressed"  Failure  true;
    /// An authenticator app was confirmed (with the session that asked, as for the factor
    /// events below).
    TotpEnabled                  = "mfa.totp_enabled"              Success  true;
    /// The authenticator app was removed.
    TotpDisabled                 = "mfa.totp_disabled"             Success  true;
    /// A passkey was registered.
    PasskeyAdded                 = "passkey.added"                 Success  true;
    /// A passkey was deleted.
    PasskeyRemoved               = "passkey.removed"               Success  true;
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated     = "mfa.recovery_codes_regenerated" Success true;
}

/// Whether an event is something that went right or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// What was asked for happened.
    Success,
    /// It was refused.
    Failure,
}

/// How a user proved who they are, on sign-in and second-factor events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A password.
    Password,
    /// A code mailed for sign-in.
    EmailCode,
    /// A mailed password-reset link or code.
    PasswordReset,
    /// A mailed link or code that proved a new account's address (sign-up's first session).
    EmailVerification,
    /// An upstream identity provider.
    Federated,
    /// A passkey (WebAuthn).
    Passkey,
    /// An authenticator app code.
    Totp,
    /// A one-time recovery code.
    RecoveryCode,
    /// An approved device code (RFC 8628).
    DeviceCode,
    /// A refresh token.
    RefreshToken,
}

/// What a handler records: the type and the facts only the handler knows. The request's
/// context is added when the event is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    kind: EventType,
    user_id: Option<UserId>,
    session_id: Option<SessionId>,
    method: Option<AuthMethod>,
    reason: Option<&'static str>,
    provider: Option<String>,
    client_id: Option<String>,
}

impl Event {
    /// An event of type `kind` with nothing else known yet.
    pub fn new(kind: EventType) -> Self {
        Event {
            kind,
            user_id: None,
            session_id: None,
            method: None,
            reason: None,
            provider: None,
            client_id: None,
        }
    }

    /// The account it is about.
    pub fn user(mut self, id: &UserId) -> Self {
        self.user_id = Some(id.clone());
        self
    }

    /// The session it is about (its public id, never its token).
    pub fn session(mut self, id: &SessionId) -> Self {
        self.session_id = Some(id.clone());
        self
    }

    /// How the user proved who they are.
    pub fn method(mut self, method: AuthMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Why (an error code such as `invalid_credentials`, or how a session ended). A
    /// `&'static str` so that no request data can end up here.
    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The upstream identity provider (its configured name).
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// The OAuth client.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The event's type.
    pub fn kind(&self) -> EventType {
        self.kind
    }
}

/// One delivered event: what the handler recorded and the request's context. This is the
/// JSON of the log line (with `"log": "security_event"`), the bus's detail and, coarsened,
/// the user's activity entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// Unique per event (for de-duplicating a redelivery), and in the order the instance
    /// made them.
    pub id: String,
    /// When it happened.
    pub time: UnixTime,
    /// What happened.
    pub event: EventType,
    /// Whether it went right.
    pub outcome: Outcome,
    /// The account it is about, when known (not for an unknown address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The session it is about: its public id, never its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// How the user proved who they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<AuthMethod>,
    /// Why: an error code, or how a session ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The upstream identity provider's configured name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The OAuth client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's address, as [`crate::request::client_addr`] reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The client's browser and OS family (`Chrome on macOS`), never the raw header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The endpoint's function name (`sign-in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The runtime's id for the request (the access log line's `request_id`).
    pub request_id: String,
}

impl SecurityEvent {
    /// The event as one JSON log line, marked `"log":"security_event"` so that a log query
    /// can tell it from the access lines.
    pub fn log_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            log: &'static str,
            level: &'static str,
            #[serde(flatten)]
            event: &'a SecurityEvent,
        }
        let level = match self.outcome {
            Outcome::Success => "INFO",
            Outcome::Failure => "WARN",
        };
        // Strings, integers and enums only: serialisation cannot fail.
        serde_json::to_string(&Line {
            log: "security_event",
            level,
            event: self,
        })
        .unwrap_or_default()
    }
}

/// The runtime's id for a request. Adapters put it in the request's extensions (API
/// Gateway's request id, `cf-ray`, a fresh one on the dev server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The events one request has recorded so far. [`App`] puts one in every request's
/// extensions before the handler runs.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    fn push(&self, event: Event) {
        // A poisoned lock means a handler panicked mid-push: the event is lost, not the answer.
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }

    fn take(&self) -> Vec<Event> {
        self.0
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

/// The events delivered for one request and any failures to deliver them, which the runtime
/// adapter logs ([`log_lines`]). In the response's extensions.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    /// The request's events, in the order recorded.
    pub events: Vec<SecurityEvent>,
    /// Why a delivery failed (the bus, the activity store), without the events' contents.
    pub failures: Vec<String>,
}

/// The log lines for a response: its security events, then any delivery failure. The
/// adapters write them next to the access line.
pub fn log_lines(res: &crate::response::HttpResponse) -> Vec<String> {
    let Some(delivered) = res.extensions().get::<Delivered>() else {
        return Vec::new();
    };
    let mut lines: Vec<String> = delivered
        .events
        .iter()
        .map(SecurityEvent::log_line)
        .collect();
    lines.extend(delivered.failures.iter().map(|failure| {
        serde_json::json!({"log": "event_delivery_failed", "level": "ERROR", "cause": failure})
            .to_string()
    }));
    lines
}

/// One entry of a user's activity, as the store keeps it: newest first by (`time`, `id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEntry {
    /// Whose activity it is.
    pub user_id: UserId,
    /// The event's id.
    pub id: String,
    /// When it happened.
    pub time: UnixTime,
    /// The record's TTL: `time` + [`ACTIVITY_RETENTION`].
    pub expires_at: UnixTime,
    /// The entry as the user sees it ([`ActivityView`] as JSON): stores keep it opaque.
    pub json: String,
}

/// Where a page of activity starts: just older than this entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCursor {
    /// The entry's time.
    pub time: UnixTime,
    /// The entry's id.
    pub id: String,
}

/// What the user sees of one of their events: no raw address (the network, coarsened), no
/// request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    /// The event's id.
    pub id: String,
    /// When it happened.
    pub time: UnixTime,
    /// What happened.
    pub event: EventType,
    /// Whether it went right.
    pub outcome: Outcome,
    /// The session it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// How the user proved who they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<AuthMethod>,
    /// Why: an error code, or how a session ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The upstream identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The OAuth client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's browser and OS family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The client's network (a /24 or /64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

impl ActivityEntry {
    /// The activity entry of `event`, if it is about a user and shows in activity.
    pub fn of(event: &SecurityEvent) -> Option<ActivityEntry> {
        let user_id = event.user_id.clone()?;
        if !event.event.shows_in_activity() {
            return None;
        }
        let view = ActivityView {
            id: event.id.clone(),
            time: event.time,
            event: event.event,
            outcome: event.outcome,
            session_id: event.session_id.clone(),
            method: event.method,
            reason: event.reason.clone(),
            provider: event.provider.clone(),
            client_id: event.client_id.clone(),
            device: event.user_agent.clone(),
            network: event
                .client_ip
                .as_deref()
                .and_then(crate::network::parse)
                .map(|ip| crate::network::coarse(Some(ip))),
        };
        Some(ActivityEntry {
            user_id,
            id: event.id.clone(),
            time: event.time,
            expires_at: event.time.plus(ACTIVITY_RETENTION),
            json: serde_json::to_string(&view).unwrap_or_default(),
        })
    }
}

/// A fresh event id that sorts (as a string) in the order this instance made its events:
/// 12 hex digits of a millisecond stamp that never repeats or goes back within the instance,
/// then 80 random bits (base64url) so ids from different instances never collide. Events of
/// one second are then listed in the order they happened, which `time` alone cannot say.
fn event_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = unix_millis();
    let stamp = match LAST.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        Some(now.max(last + 1))
    }) {
        Ok(last) | Err(last) => now.max(last + 1),
    };
    let random = crate::crypto::random_array::<10>()
        .map(|b| crate::crypto::b64url(&b))
        .unwrap_or_default();
    format!("{stamp:012x}{random}")
}

/// Milliseconds since the Unix epoch: the system's clock natively, JavaScript's on wasm32.
fn unix_millis() -> u64 {
    #[cfg(not(target_arch = "wasm32"))]
    return std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    #[cfg(target_arch = "wasm32")]
    {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a non-negative whole number of milliseconds; the cast saturates"
        )]
        return js_sys::Date::now().max(0.0) as u64;
    }
}

impl App {
    /// Records `event` for delivery once the request is answered. A request that did not come
    /// through [`App::handle`] / [`App::route`] has no recorder: the event is dropped.
    pub(crate) fn record(&self, req: &HttpRequest, event: Event) {
        if let Some(recorder) = req.extensions().get::<Recorder>() {
            recorder.push(event);
        }
    }

    /// Completes the request's recorded events with its context, and delivers them: the
    /// user's activity, the bus, and the response's extensions for the log. Never fails.
    pub(crate) async fn deliver_events(
        &self,
        req: &HttpRequest,
        endpoint: Endpoint,
        res: &mut crate::response::HttpResponse,
    ) {
        let Some(recorder) = req.extensions().get::<Recorder>() else {
            return;
        };
        let recorded = recorder.take();
        if recorded.is_empty() {
            return;
        }
        // template.yaml lets only these functions publish to the bus (events:PutEvents).
        debug_assert!(
            endpoint.may_record_events(),
            "{endpoint:?} recorded events but Endpoint::may_record_events says it never does"
        );
        let now = self.now();
        let client_ip = crate::request::client_addr(req, &self.config).map(|ip| ip.to_string());
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(coarse_user_agent);
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let events: Vec<SecurityEvent> = recorded
            .into_iter()
            .map(|e| SecurityEvent {
                id: event_id(),
                time: now,
                event: e.kind,
                outcome: e.kind.outcome(),
                user_id: e.user_id,
                session_id: e.session_id,
                method: e.method,
                reason: e.reason.map(str::to_owned),
                provider: e.provider,
                client_id: e.client_id,
                client_ip: client_ip.clone(),
                user_agent: user_agent.clone(),
                endpoint: Some(endpoint.function_name().to_owned()),
                request_id: request_id.clone(),
            })
            .collect();
        let mut failures = Vec::new();
        let activity: Vec<ActivityEntry> = events.iter().filter_map(ActivityEntry::of).collect();
        if !activity.is_empty()
            && let Err(e) = self.store.add_activity(&activity).await
        {
            failures.push(format!("activity: {}", crate::error::chain(&e)));
        }
        if let Some(bus) = self.event_bus()
            && let Err(e) = bus.publish(&events).await
        {
            failures.push(format!("event bus: {}", crate::error::chain(&e)));
        }
        res.extensions_mut().insert(Delivered { events, failures });
    }
}

impl Endpoint {
    /// Whether the endpoint can record security events at all: it signs someone in or out,
    /// reads a session (which may turn out expired), changes an account or a credential, or
    /// counts a rate limit. The others publish keys and metadata or read an access token.
    /// On AWS only the functions that can are allowed to publish to the event bus.
    pub const fn may_record_events(self) -> bool {
        !matches!(
            self,
            Endpoint::Jwks | Endpoint::OpenIdConfiguration | Endpoint::Userinfo
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dotted_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for t in EventType::ALL {
            assert!(seen.insert(t.name()), "{} twice", t.name());
            assert!(
                t.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'),
                "{}",
                t.name()
            );
            // The serde name is the table's name.
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
        }
    }

    #[test]
    fn event_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| event_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn a_log_line_is_marked_and_levelled() {
        let event = SecurityEvent {
            id: "e1".into(),
            time: UnixTime(1_700_000_000),
            event: EventType::SignInFailed,
            outcome: EventType::SignInFailed.outcome(),
            user_id: None,
            session_id: None,
            method: Some(AuthMethod::Password),
            reason: Some("invalid_credentials".into()),
            provider: None,
            client_id: None,
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some("Firefox on Linux".into()),
            endpoint: Some("sign-in".into()),
            request_id: "r1".into(),
        };
        let json: serde_json::Value = serde_json::from_str(&event.log_line()).unwrap();
        assert_eq!(json["log"], "security_event");
        assert_eq!(json["level"], "WARN");
        assert_eq!(json["event"], "sign_in.failed");
        assert_eq!(json["outcome"], "failure");
        assert_eq!(json["method"], "password");
        assert!(json.get("user_id").is_none());
        let entry = ActivityEntry::of(&event);
        assert!(entry.is_none(), "no user, no activity");
        let mut mine = event.clone();
        mine.user_id = Some(UserId::from_stored("u1".into()));
        let entry = ActivityEntry::of(&mine).unwrap();
        let view: ActivityView = serde_json::from_str(&entry.json).unwrap();
        assert_eq!(view.network.as_deref(), Some("203.0.113.0/24"));
        assert!(!entry.json.contains("203.0.113.9"), "{}", entry.json);
    }
}
