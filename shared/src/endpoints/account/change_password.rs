//! `POST /auth/password/change` (signed in) {current_password, new_password} → 200 with a
//! new session; an account with a second factor also needs a recent sign-in (step-up). Every
//! other session and refresh-token family of the account ends.

use http::StatusCode;
use serde::Deserialize;

use super::confirm_owner;
use crate::App;
use crate::endpoints::credentials::{SessionDelivery, session_issued};
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::password::Password;
use crate::request::HttpRequest;
use crate::response::HttpResponse;

#[derive(Deserialize)]
struct Body {
    current_password: String,
    new_password: String,
    #[serde(default)]
    session_delivery: SessionDelivery,
}

/// Checks the current password (a stolen session alone cannot change it), sets the new one,
/// and rotates the session.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "password-change").await?;
    let who = app.authenticate(req).await?;
    let body: Body = crate::request::json_body(req, &app.config)?;
    let delivery = body.session_delivery.checked(req)?;
    let current = Password::presented(body.current_password)
        .map_err(|m| ApiError::invalid_field("current_password", m))?;
    let new = Password::new_for_sign_up(body.new_password)
        .map_err(|m| ApiError::invalid_field("new_password", m))?;
    if !who.user.factors.is_empty() {
        // With a second factor, the password alone is not enough: a recent full sign-in.
        confirm_owner(app, req, &who, None).await?;
    }
    // Wrong current passwords count against the address's sign-in lockout: a stolen session
    // is no way around it to guess the password.
    let attempt = app
        .count_sign_in_attempt(req, &who.user.email, Some(&who.user.id), None)
        .await?;
    // An account without a password (identity provider only) is checked against the dummy
    // hash and refused: it sets one through a password reset, which proves the address.
    if !app
        .passwords
        .verify(current, who.user.password_hash.clone())
        .await?
    {
        return Err(app.sign_in_failed(req, attempt).await?);
    }
    app.sign_in_succeeded(attempt).await?;
    let hash = app.passwords.hash(new).await?;
    if app
        .store
        .set_password(&who.user.id, &hash, None, app.now())
        .await?
        .is_none()
    {
        return Err(ApiError::Unauthenticated);
    }
    let user = app
        .store
        .user_by_id(&who.user.id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    app.end_presented_session(req).await?;
    let (session, token) = app.replace_session(req, &who, &user).await?;
    app.record(
        req,
        Event::new(EventType::PasswordChanged)
            .user(&user.id)
            .session(&session.id),
    );
    session_issued(app, StatusCode::OK, &session, &token, delivery)
}
