//! `POST /auth/sign-in` {email, password} → 200 with a new session.

use http::StatusCode;

use super::credentials::{Credentials, session_issued};
use crate::App;
use crate::error::ApiError;
use crate::request::{HttpRequest, client_ip};
use crate::response::HttpResponse;

pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit("sign-in", &client_ip(req, &app.config)).await?;
    let creds = Credentials::parse(app, req)?;
    let password = creds.password_presented()?;
    app.check_lockout(&creds.email).await?;

    let user = app.store.user_by_email(&creds.email).await?;
    // Unknown users, and users who only sign in through an identity provider, are verified
    // against a dummy hash: one argon2id run either way, so timing reveals nothing.
    if !app.passwords.verify(&password, user.as_ref().and_then(|u| u.password_hash.as_ref())) {
        return Err(app.record_failure(&creds.email).await?);
    }
    let user = user.expect("verify never succeeds without a stored hash");
    app.clear_failures(&creds.email).await?;

    // Never reuse a session the request arrived with (no fixation): end it, start a new one.
    if let Some(old) = app.presented_token(req) {
        app.store.delete_session(&old.hash()).await?;
    }
    let (session, token) = app.new_session(&user)?;
    app.store.put_session(&session).await?;
    Ok(session_issued(app, StatusCode::OK, &session, &token, creds.delivery))
}
