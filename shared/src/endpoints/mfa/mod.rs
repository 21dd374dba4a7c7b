//! Second factors: the gate every sign-in passes once its first factor is proven, and (in
//! submodules) the endpoints that check and manage factors.
//!
//! Sign-in is a state machine: Anonymous → (first factor) → Pending → (second factor) →
//! SignedIn. [`App::pass_first_factor`] is the one way from a proven first factor to either a
//! session or a pending sign-in; every endpoint that signs someone in calls it, so no path
//! reaches a session with fewer factors than the account requires.

use std::time::Duration;

use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use super::credentials::{SessionDelivery, session_issued};
use crate::App;
use crate::clock::UnixTime;
use crate::data_keys::{Aad, DataKeyRing};
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::mail::Mail;
use crate::recovery::RecoveryCode;
use crate::request::HttpRequest;
use crate::response::{self, ErrorDetail, HttpResponse};
use crate::session::Authenticated;
use crate::store::{FirstFactor, PendingSignIn, RecoveryCodes, SessionRecord, UserRecord};
use crate::token::{PendingToken, SessionToken, UserId};
use crate::totp::TotpSecret;

pub mod factors;
pub mod recovery_codes;
pub mod totp_confirm;
pub mod totp_disable;
pub mod totp_enroll;
pub mod verify;

/// How long a pending sign-in waits for its second factor.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Wrong second factors a pending sign-in survives: the one that reaches this ends it.
pub const MAX_FACTOR_FAILURES: u32 = 5;

/// How the factor a sign-in just passed was proven: what its events say (the method, and
/// the provider of a federated sign-in), and where the client's device token may be, for the
/// new-device notice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Proven<'a> {
    method: AuthMethod,
    provider: Option<&'a str>,
    device_token: Option<&'a str>,
    device_checked_later: bool,
}

impl<'a> Proven<'a> {
    /// Proven by `method`.
    pub(crate) fn by(method: AuthMethod) -> Self {
        Proven {
            method,
            provider: None,
            device_token: None,
            device_checked_later: false,
        }
    }

    /// Proven by the identity provider named `provider`.
    pub(crate) fn federated(provider: &'a str) -> Self {
        Proven {
            provider: Some(provider),
            ..Proven::by(AuthMethod::Federated)
        }
    }

    /// With the body's `device_token` (a client without a cookie jar), beside the cookie.
    pub(crate) fn device_token(self, device_token: Option<&'a str>) -> Self {
        Proven {
            device_token,
            ..self
        }
    }

    /// The request cannot carry the device cookie (a cross-site `form_post` callback): the
    /// caller checks for a new device at the step that can.
    pub(crate) fn device_checked_later(self) -> Self {
        Proven {
            device_checked_later: true,
            ..self
        }
    }

    /// An event of `kind` saying how the factor was proven.
    pub(crate) fn event(&self, kind: EventType) -> Event {
        let event = Event::new(kind).method(self.method);
        match self.provider {
            Some(provider) => event.provider(provider),
            None => event,
        }
    }

    /// The first factor this proof is, as a pending sign-in records it.
    fn first_factor(&self) -> Result<FirstFactor, ApiError> {
        match self.method {
            AuthMethod::Password | AuthMethod::PasswordReset => Ok(FirstFactor::Password),
            AuthMethod::EmailCode => Ok(FirstFactor::EmailCode),
            AuthMethod::Federated => Ok(FirstFactor::Federated),
            other => Err(ApiError::Internal(
                format!("{other:?} is no first factor").into(),
            )),
        }
    }
}

/// Where a sign-in stands once its first factor is proven.
pub(crate) enum SignInStep {
    /// The account needs nothing more: this session is stored.
    SignedIn {
        /// The stored session.
        session: SessionRecord,
        /// Its token, for the client.
        token: SessionToken,
        /// Why the new-device notice was not sent, if it failed: for the answer's log line.
        notice_failed: Option<ErrorDetail>,
    },
    /// The account needs a second factor: this pending sign-in is stored.
    SecondFactor {
        /// The stored pending sign-in.
        pending: PendingSignIn,
        /// Its token, for the client.
        token: PendingToken,
        /// What the account can answer with, for the client to offer.
        methods: Vec<&'static str>,
    },
}

/// The second factors this account can answer with, in the order a client should offer them.
pub(crate) fn methods(user: &UserRecord) -> Vec<&'static str> {
    let f = user.factors;
    let mut methods = Vec::new();
    if f.passkeys > 0 {
        methods.push("passkey");
    }
    if f.totp {
        methods.push("totp");
    }
    if !f.is_empty() {
        methods.push("recovery_code");
    }
    methods
}

impl App {
    /// The gate after a first factor: a session if the account needs no more (no factor, or a
    /// federated sign-in while `AUTHFN_MFA_FOR_FEDERATED` is off), else a pending sign-in
    /// (a `sign_in.second_factor_required` event, `method` the first factor's). Either is
    /// stored before this returns.
    pub(crate) async fn pass_first_factor(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
        first: Proven<'_>,
    ) -> Result<SignInStep, ApiError> {
        let factor = first.first_factor()?;
        let trusted_provider = factor == FirstFactor::Federated && !self.config.mfa_for_federated;
        if user.factors.is_empty() || trusted_provider {
            return self.pass_every_factor(req, user, first).await;
        }
        let now = self.now();
        let token = PendingToken::generate()?;
        let pending = PendingSignIn {
            token_hash: token.hash(),
            user_id: user.id.clone(),
            user_epoch: user.session_epoch,
            first_factor: factor,
            failures: 0,
            created_at: now,
            expires_at: now.plus(PENDING_LIFETIME),
        };
        self.store.put_pending_sign_in(&pending).await?;
        self.record(
            req,
            first.event(EventType::SecondFactorRequired).user(&user.id),
        );
        Ok(SignInStep::SecondFactor {
            pending,
            token,
            methods: methods(user),
        })
    }

    /// The session of a sign-in that proved every factor the account needs (the second
    /// factor of a pending sign-in, or a passkey with user verification): stored, with
    /// `authenticated_at` now. Only the gate and the endpoints that check a second factor call
    /// this. It is the one `sign_in.succeeded` of an existing account (`method`: how `last`,
    /// the factor that completed it, was proven), and the one place that sends the
    /// new-device notice.
    pub(crate) async fn pass_every_factor(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
        last: Proven<'_>,
    ) -> Result<SignInStep, ApiError> {
        let (session, token) = self.new_session(req, user)?;
        self.store.put_session(&session).await?;
        self.record(
            req,
            last.event(EventType::SignInSucceeded)
                .user(&user.id)
                .session(&session.id),
        );
        let notice_failed = if last.device_checked_later {
            None
        } else {
            self.notice_new_device(req, user, &session, last.device_token)
                .await
        };
        Ok(SignInStep::SignedIn {
            session,
            token,
            notice_failed,
        })
    }

    /// The first session of an account made by this very request (sign-up, a proven sign-up,
    /// a first federated sign-in), not yet stored: the caller writes it with the account, in
    /// one atomic write, then records `sign_up` and `sign_in.succeeded`. A new account has no
    /// second factor; one that has is refused, so this is no way around the gate.
    pub(crate) fn first_session(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
    ) -> Result<(SessionRecord, SessionToken), ApiError> {
        if !user.factors.is_empty() {
            return Err(ApiError::Internal(
                "a new account cannot have a second factor".into(),
            ));
        }
        self.new_session(req, user)
    }

    /// The session that replaces a signed-in one after its owner proved themselves again (a
    /// password change), stored. It is only as strong as what was proven: with a second factor
    /// on the account it keeps the old session's `authenticated_at` (a password is one factor),
    /// without one the password just checked was everything, so `authenticated_at` is now.
    pub(crate) async fn replace_session(
        &self,
        req: &HttpRequest,
        who: &Authenticated,
        user: &UserRecord,
    ) -> Result<(SessionRecord, SessionToken), ApiError> {
        let (mut session, token) = self.new_session(req, user)?;
        if !user.factors.is_empty() {
            session.authenticated_at = who.session.authenticated_at;
        }
        self.store.put_session(&session).await?;
        Ok((session, token))
    }

    /// The pending-sign-in token a request presents (the body's `mfa_token` for token
    /// clients, else the cookie), if its tag verifies. Never a session token.
    pub(crate) fn presented_pending(
        &self,
        req: &HttpRequest,
        body_token: Option<&str>,
    ) -> Option<PendingToken> {
        let keys = &self.config.session_keys;
        body_token
            .into_iter()
            .chain(crate::cookie::find(
                req.headers(),
                self.config.cookie.pending_name(),
            ))
            .find_map(|v| PendingToken::verify(v, keys))
    }
}

#[derive(Serialize)]
struct SecondFactorRequired<'a> {
    mfa_required: bool,
    methods: &'a [&'static str],
    expires_at: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
}

/// The answer to a sign-in that passed its first factor: the session (ending the one the
/// request arrived with: no fixation), or `200 {"mfa_required": true, "methods": [...]}` with
/// the pending sign-in in a cookie (or in the body as `mfa_token` for token clients). A
/// pending answer leaves the presented session alone: re-authenticating and then abandoning
/// the second factor does not sign anyone out.
pub(crate) async fn answer(
    app: &App,
    req: &HttpRequest,
    step: SignInStep,
    status: StatusCode,
    delivery: SessionDelivery,
) -> Result<HttpResponse, ApiError> {
    match step {
        SignInStep::SignedIn {
            session,
            token,
            notice_failed,
        } => {
            app.end_presented_session(req).await?;
            let mut res = session_issued(app, status, &session, &token, delivery)?;
            if let Some(detail) = notice_failed {
                res.extensions_mut().insert(detail);
            }
            Ok(res)
        }
        SignInStep::SecondFactor {
            pending,
            token,
            methods,
        } => {
            let signed = token.sign(&app.config.session_keys);
            let as_token = delivery == SessionDelivery::Token;
            let body = SecondFactorRequired {
                mfa_required: true,
                methods: &methods,
                expires_at: pending.expires_at,
                mfa_token: as_token.then(|| signed.secret().as_str()),
            };
            let mut res = response::json(StatusCode::OK, &body);
            if !as_token {
                let cookie =
                    crate::cookie::pending_sign_in(&app.config.cookie, &signed, PENDING_LIFETIME);
                res.headers_mut().append(
                    SET_COOKIE,
                    HeaderValue::from_str(&cookie).expect("cookie is ASCII"),
                );
            }
            Ok(res)
        }
    }
}

/// Signs `user` in with every factor the account needs proven already (a passkey with user
/// verification, or the second factor of a pending sign-in just taken, `last`): a new session
/// with `authenticated_at` now, the presented session ended (no fixation), the pending-sign-in
/// cookie cleared.
pub(crate) async fn complete_sign_in(
    app: &App,
    req: &HttpRequest,
    user: &UserRecord,
    last: Proven<'_>,
    delivery: SessionDelivery,
) -> Result<HttpResponse, ApiError> {
    let step = app.pass_every_factor(req, user, last).await?;
    let mut res = answer(app, req, step, StatusCode::OK, delivery).await?;
    if delivery == SessionDelivery::Cookie {
        let clear = crate::cookie::clear_pending_sign_in(&app.config.cookie);
        res.headers_mut().append(
            SET_COOKIE,
            HeaderValue::from_str(&clear).expect("cookie is ASCII"),
        );
    }
    Ok(res)
}

/// The data keys, which every endpoint that reads a TOTP secret has (`check_can_serve`
/// refuses to start it without them).
fn data_keys(app: &App) -> Result<&DataKeyRing, ApiError> {
    app.config
        .data_keys
        .as_ref()
        .ok_or_else(|| ApiError::Internal("AUTHFN_DATA_KEYS is not set".into()))
}

/// What a TOTP secret is encrypted for: between enrol and confirm, and once on.
#[derive(Debug, Clone, Copy)]
enum SecretUse {
    Enrolment,
    Factor,
}

impl SecretUse {
    fn purpose(self) -> &'static str {
        match self {
            SecretUse::Enrolment => "totp-enrolment",
            SecretUse::Factor => "totp-secret",
        }
    }
}

/// `secret` encrypted under the current data key, bound to `user` and `what`.
fn seal_secret(
    app: &App,
    what: SecretUse,
    user: &UserId,
    secret: &TotpSecret,
) -> Result<String, ApiError> {
    Ok(data_keys(app)?.encrypt(Aad::new(what.purpose(), user.as_str()), secret.secret())?)
}

/// The secret a stored value holds. A value that does not decrypt (a key retired too early, a
/// record copied from another user) is a broken invariant, not the client's fault.
fn open_secret(
    app: &App,
    what: SecretUse,
    user: &UserId,
    stored: &str,
) -> Result<TotpSecret, ApiError> {
    data_keys(app)?
        .decrypt(Aad::new(what.purpose(), user.as_str()), stored)
        .and_then(|bytes| TotpSecret::from_bytes(&bytes))
        .ok_or_else(|| {
            ApiError::Internal(
                "a stored TOTP secret does not decrypt under AUTHFN_DATA_KEYS".into(),
            )
        })
}

/// A typed authenticator code without the spaces people type (`123 456`).
fn typed_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A fresh set of recovery codes for `user`: the record to store (hashes only) and the codes
/// as shown, once.
fn new_recovery_codes(app: &App, user: &UserId) -> Result<(RecoveryCodes, Vec<String>), ApiError> {
    let codes = RecoveryCode::generate_set()?;
    let record = RecoveryCodes {
        user_id: user.clone(),
        code_hashes: codes.iter().map(|c| c.hash(user)).collect(),
        created_at: app.now(),
    };
    Ok((record, codes.iter().map(RecoveryCode::display).collect()))
}

/// The body of a step-up request: for an account without a second factor, its current
/// password instead of a recent sign-in (see `account::confirm_owner`).
#[derive(serde::Deserialize)]
struct StepUpBody {
    #[serde(default)]
    current_password: Option<String>,
}

#[derive(Serialize)]
struct RecoveryCodesView {
    recovery_codes: Vec<String>,
}

/// `200 {"recovery_codes": [...]}`: the only time the codes are shown.
fn recovery_codes_answer(codes: Vec<String>) -> HttpResponse {
    response::json(
        StatusCode::OK,
        &RecoveryCodesView {
            recovery_codes: codes,
        },
    )
}

/// Sends a notice about a change that is already made: a factor added, new recovery codes, a
/// recovery code used. A mail outage does not undo the change nor fail the request (the change
/// is what the user asked for, and makes the account no weaker): the failure goes to the log
/// line, through the answer's [`ErrorDetail`]. A factor that leaves is announced before it goes
/// instead (`totp_disable`, `passkeys::manage::delete`).
pub(crate) async fn notify(app: &App, mut res: HttpResponse, mail: Mail) -> HttpResponse {
    if let Err(e) = app.send_mail(&mail).await {
        res.extensions_mut().insert(ErrorDetail {
            code: e.code(),
            cause: e.cause_chain(),
        });
    }
    res
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Whether `text` names `new_session(` as a whole word (`renew_session(` is another method).
    fn calls_new_session(text: &str) -> bool {
        text.match_indices("new_session(").any(|(at, _)| {
            !text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn sessions_are_made_only_behind_the_gate() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut callers: Vec<String> = files
            .iter()
            .filter(|f| calls_new_session(&std::fs::read_to_string(f).expect("source file")))
            .map(|f| {
                f.strip_prefix(&src)
                    .expect("under src")
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        callers.sort();
        // session.rs defines it; the gate (this file) is the only caller: every sign-in, sign-up
        // and second factor goes through `pass_first_factor`, `pass_every_factor`,
        // `first_session` or `replace_session`.
        assert_eq!(callers, ["endpoints/mfa/mod.rs", "session.rs"]);
    }
}
