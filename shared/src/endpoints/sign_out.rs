//! `POST /auth/sign-out` (this session) and `POST /auth/sign-out/all` (every session).

use http::HeaderValue;
use http::header::SET_COOKIE;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::session::ended;

/// Ends the presented session, if any. Signing out twice is not an error: the goal, no
/// session and no cookie, holds either way. A live session's end is a `session.ended` event
/// (reason `sign_out`); one already ended is not told again.
pub async fn one(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    // Read for the event only: a refused read (a function not allowed to) costs the event,
    // never the sign-out.
    let live = match app.presented_session(req) {
        Some(presented) => app
            .store
            .session(&presented.token.hash(), app.now())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    app.end_presented_session(req).await?;
    if let Some(session) = live {
        app.record(req, ended(&session, "sign_out"));
    }
    Ok(cleared(app))
}

/// Ends every session of the signed-in user, on every device: one `session.ended` event, for
/// the session that asked (reason `sign_out_all`).
pub async fn all(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    app.store.revoke_all_sessions(&who.user.id).await?;
    app.record(req, ended(&who.session, "sign_out_all"));
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
