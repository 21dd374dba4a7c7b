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
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::{FirstFactor, PendingSignIn, SessionRecord, UserRecord};
use crate::token::{PendingToken, SessionToken};

/// How long a pending sign-in waits for its second factor.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Wrong second factors a pending sign-in survives: the one that reaches this ends it.
pub const MAX_FACTOR_FAILURES: u32 = 5;

/// Where a sign-in stands once its first factor is proven.
pub(crate) enum SignInStep {
    /// The account needs nothing more: this session is stored.
    SignedIn {
        /// The stored session.
        session: SessionRecord,
        /// Its token, for the client.
        token: SessionToken,
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
    /// federated sign-in while `AUTHFN_MFA_FOR_FEDERATED` is off), else a pending sign-in.
    /// Either is stored before this returns.
    pub(crate) async fn pass_first_factor(
        &self,
        user: &UserRecord,
        first: FirstFactor,
    ) -> Result<SignInStep, ApiError> {
        let trusted_provider = first == FirstFactor::Federated && !self.config.mfa_for_federated;
        if user.factors.is_empty() || trusted_provider {
            let (session, token) = self.new_session(user)?;
            self.store.put_session(&session).await?;
            return Ok(SignInStep::SignedIn { session, token });
        }
        let now = self.now();
        let token = PendingToken::generate()?;
        let pending = PendingSignIn {
            token_hash: token.hash(),
            user_id: user.id.clone(),
            user_epoch: user.session_epoch,
            first_factor: first,
            failures: 0,
            created_at: now,
            expires_at: now.plus(PENDING_LIFETIME),
        };
        self.store.put_pending_sign_in(&pending).await?;
        Ok(SignInStep::SecondFactor {
            pending,
            token,
            methods: methods(user),
        })
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
        SignInStep::SignedIn { session, token } => {
            app.end_presented_session(req).await?;
            session_issued(app, status, &session, &token, delivery)
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
/// verification, or the second factor of a pending sign-in just taken): a new session with
/// `authenticated_at` now, the presented session ended (no fixation), the pending-sign-in
/// cookie cleared.
pub(crate) async fn complete_sign_in(
    app: &App,
    req: &HttpRequest,
    user: &UserRecord,
    delivery: SessionDelivery,
) -> Result<HttpResponse, ApiError> {
    let (session, token) = app.new_session(user)?;
    app.store.put_session(&session).await?;
    let step = SignInStep::SignedIn { session, token };
    let mut res = answer(app, req, step, StatusCode::OK, delivery).await?;
    let clear = crate::cookie::clear_pending_sign_in(&app.config.cookie);
    res.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_str(&clear).expect("cookie is ASCII"),
    );
    Ok(res)
}
