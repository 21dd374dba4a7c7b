//! `POST /auth/sign-up` {email, password} → 201 with a new session.

use http::StatusCode;

use super::credentials::{Credentials, session_issued};
use crate::App;
use crate::error::ApiError;
use crate::request::{HttpRequest, client_ip};
use crate::response::HttpResponse;
use crate::store::{Insert, UserRecord};
use crate::token::UserId;

/// Creates the account and its first session.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit("sign-up", &client_ip(req, &app.config)).await?;
    let creds = Credentials::parse(app, req)?;
    let password = creds.password_for_sign_up()?;
    let hash = app.passwords.hash(password).await?;
    let user = UserRecord {
        id: UserId::generate()?,
        email: creds.email,
        password_hash: Some(hash),
        created_at: app.now(),
        email_verified: false,
        session_epoch: 0,
    };
    let (session, token) = app.new_session(&user)?;
    // User, email claim and first session are one atomic write: a lost race or an outage
    // leaves nothing behind.
    match app.store.create_user(&user, &session).await? {
        Insert::Inserted => {}
        Insert::AlreadyExists => return Err(ApiError::EmailTaken),
    }
    // As at sign-in, a session the request arrived with (another account's, perhaps) ends:
    // the browser now holds the new account's session only.
    app.end_presented_session(req).await?;
    session_issued(app, StatusCode::CREATED, &session, &token, creds.delivery)
}
