//! `POST /auth/sign-out` (this session) and `POST /auth/sign-out/all` (every session).

use http::HeaderValue;
use http::header::SET_COOKIE;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

/// Ends the presented session, if any. Signing out twice is not an error: the goal, no
/// session and no cookie, holds either way.
pub async fn one(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.end_presented_session(req).await?;
    Ok(cleared(app))
}

/// Ends every session of the signed-in user, on every device.
pub async fn all(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    app.store.revoke_all_sessions(&who.user.id).await?;
    Ok(cleared(app))
}

/// 204 with the session cookie cleared.
pub(super) fn cleared(app: &App) -> HttpResponse {
    let mut res = response::no_content();
    let cookie = crate::cookie::clear(&app.config.cookie);
    res.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie is ASCII"),
    );
    res
}
