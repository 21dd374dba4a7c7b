//! `POST /auth/mfa/verify` {method: "totp" | "recovery_code", code, mfa_token?,
//! session_delivery?, device_token?} → 200 with the session, as sign-in answers, finishing the
//! pending sign-in the cookie (or `mfa_token`) names.
//!
//! Order matters for the races: the attempt is counted before the code is checked (as for
//! passwords); a TOTP step is accepted by compare-and-set and a recovery code taken before the
//! pending sign-in is; taking the pending sign-in is the one winner that gets a session.

use serde::Deserialize;

use super::{Proven, SecretUse, notify, open_secret, typed_code};
use crate::App;
use crate::endpoints::account::mails;
use crate::endpoints::credentials::{SessionDelivery, presented_device};
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::recovery::RecoveryCode;
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::UserRecord;

/// Which second factor a request answers with.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Method {
    Totp,
    RecoveryCode,
}

impl Method {
    fn auth_method(self) -> AuthMethod {
        match self {
            Method::Totp => AuthMethod::Totp,
            Method::RecoveryCode => AuthMethod::RecoveryCode,
        }
    }
}

#[derive(Deserialize)]
struct Body {
    method: Method,
    code: String,
    #[serde(default)]
    mfa_token: Option<String>,
    #[serde(default)]
    session_delivery: SessionDelivery,
    #[serde(default)]
    device_token: Option<String>,
}

/// Checks the second factor of the presented pending sign-in and, if it is right, replaces the
/// pending sign-in with a session.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "mfa-verify").await?;
    let body: Body = crate::request::json_body(req, &app.config)?;
    let delivery = body.session_delivery.checked(req)?;
    let token = app
        .presented_pending(req, body.mfa_token.as_deref())
        .ok_or(ApiError::MfaExpired)?;
    let hash = token.hash();
    let pending = app
        .store
        .pending_sign_in(&hash, app.now())
        .await?
        .ok_or(ApiError::MfaExpired)?;
    let user = app
        .store
        .user_by_id(&pending.user_id)
        .await?
        // Signed out everywhere since the first factor: the pending sign-in is void too.
        .filter(|u| u.session_epoch == pending.user_epoch)
        .ok_or(ApiError::MfaExpired)?;

    let device = presented_device(app, req, body.device_token.as_deref(), &user.id);
    // Counted before the code is checked: a locked client learns nothing about its guess.
    let method = body.method.auth_method();
    let attempt = app
        .count_factor_attempt(req, &user.id, method, device.as_ref())
        .await?;
    if !factor_is_right(app, &user, body.method, &body.code).await? {
        // The pending sign-in dies at its MAX_FACTOR_FAILURES-th wrong factor.
        app.store
            .count_pending_failure(&hash, super::MAX_FACTOR_FAILURES, app.now())
            .await?;
        // `mfa.failed`, and `sign_in.locked` if it used up the budget.
        return Err(app
            .attempt_failed(req, attempt, ApiError::InvalidSecondFactor)
            .await?);
    }
    // Of two right answers racing, the one that takes the pending sign-in gets the session.
    if app
        .store
        .take_pending_sign_in(&hash, app.now())
        .await?
        .is_none()
    {
        return Err(ApiError::MfaExpired);
    }
    app.sign_in_succeeded(attempt).await?;
    app.record(
        req,
        Event::new(EventType::SecondFactorPassed)
            .user(&user.id)
            .method(method),
    );

    let last = Proven::by(method).device_token(body.device_token.as_deref());
    let mut res = super::complete_sign_in(app, req, &user, last, delivery).await?;
    if body.method == Method::RecoveryCode {
        let left = app
            .store
            .recovery_codes(&user.id)
            .await?
            .map_or(0, |c| c.code_hashes.len());
        let mail = mails::recovery_code_used(&app.config, &user.email, left);
        res = notify(app, res, mail).await;
    }
    Ok(res)
}

/// Whether `code` is a right answer of kind `method` for `user`, using it up if so: a TOTP
/// code's time step is accepted once (and never an older one after it), a recovery code is
/// taken. A method the account does not have is simply wrong.
async fn factor_is_right(
    app: &App,
    user: &UserRecord,
    method: Method,
    code: &str,
) -> Result<bool, ApiError> {
    let now = app.now();
    match method {
        Method::Totp => {
            let Some(factor) = app.store.totp_factor(&user.id).await? else {
                return Ok(false);
            };
            let secret = open_secret(app, SecretUse::Factor, &user.id, &factor.encrypted_secret)?;
            let Some(step) = secret.verify(&typed_code(code), now) else {
                return Ok(false);
            };
            Ok(app.store.accept_totp_step(&user.id, step, now).await?)
        }
        Method::RecoveryCode => {
            let Some(code) = RecoveryCode::normalise(code) else {
                return Ok(false);
            };
            Ok(app
                .store
                .take_recovery_code(&user.id, &code.hash(&user.id))
                .await?)
        }
    }
}
