//! `GET /auth/session`: who is signed in, and until when.

use http::StatusCode;
use serde::Serialize;

use crate::App;
use crate::clock::UnixTime;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

#[derive(Serialize)]
struct SessionView<'a> {
    user: UserView<'a>,
    session: SessionInfo<'a>,
    /// When this session's sign-in last proved every factor: sensitive changes need it within
    /// the last five minutes (step-up).
    authenticated_at: UnixTime,
    /// Whether the account has a second factor, so signing in needs two.
    mfa: bool,
}

#[derive(Serialize)]
struct UserView<'a> {
    id: &'a str,
    email: &'a str,
    created_at: UnixTime,
}

#[derive(Serialize)]
struct SessionInfo<'a> {
    id: &'a str,
    expires_at: UnixTime,
    idle_expires_at: UnixTime,
}

/// Answers with the signed-in user and the session's deadlines, renewing it as any
/// authenticated request does.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    let view = SessionView {
        user: UserView {
            id: who.user.id.as_str(),
            email: who.user.email.as_str(),
            created_at: who.user.created_at,
        },
        session: SessionInfo {
            id: who.session.id.as_str(),
            expires_at: who.session.expires_at,
            idle_expires_at: who.session.idle_expires_at,
        },
        authenticated_at: who.session.authenticated_at,
        mfa: !who.user.factors.is_empty(),
    };
    Ok(response::json(StatusCode::OK, &view))
}
