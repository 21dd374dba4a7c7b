//! `POST /auth/sign-in` {email, password} → 200 with a new session, or with
//! `{"mfa_required": true, …}` when the account has a second factor.

use http::StatusCode;

use super::credentials::Credentials;
use super::mfa::{self, Proven};
use crate::App;
use crate::error::ApiError;
use crate::events::AuthMethod;
use crate::request::HttpRequest;
use crate::response::HttpResponse;

/// Checks the password under the sign-in lockouts, then replaces any presented session with a
/// new one.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "sign-in").await?;
    let creds = Credentials::parse(app, req)?;
    let password = creds.password_presented()?;

    let user = app.store.user_by_email(&creds.email).await?;
    let device = user
        .as_ref()
        .and_then(|u| creds.device_for(app, req, &u.id));
    // Counted before argon2 runs: a locked client costs the server no hashing at all.
    let attempt = app
        .count_sign_in_attempt(
            req,
            &creds.email,
            user.as_ref().map(|u| &u.id),
            device.as_ref(),
        )
        .await?;
    // Unknown users, and users who only sign in through an identity provider, are verified
    // against a dummy hash: one argon2id run either way, so timing reveals nothing.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    if !app.passwords.verify(password, stored).await? {
        // `sign_in.failed`, with the account when the address has one.
        return Err(app.sign_in_failed(req, attempt).await?);
    }
    let user = user.expect("verify never succeeds without a stored hash");
    app.sign_in_succeeded(attempt).await?;

    // A session (never the one the request arrived with: no fixation), or, for an account
    // with a second factor, a pending sign-in waiting for it.
    let proven = Proven::by(AuthMethod::Password).device_token(creds.device_token());
    let step = app.pass_first_factor(req, &user, proven).await?;
    mfa::answer(app, req, step, StatusCode::OK, creds.delivery).await
}
