//! `POST /auth/account/delete` (signed in) {password} → 200 `{"status":"deleted"}`, with the
//! session cookie cleared. An account without a password (identity provider only) sends no
//! password and needs a sign-in in the last five minutes instead.

use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::confirm_owner;
use crate::App;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

#[derive(Deserialize)]
struct Body {
    /// Required when the account has a password; see [`confirm_owner`].
    #[serde(default)]
    password: Option<String>,
}

/// Deletes the signed-in account and everything that names it (see `Store::delete_user`):
/// afterwards its address signs in as an unknown one does, and may sign up again.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "account-delete").await?;
    let who = app.authenticate(req).await?;
    let body: Body = crate::request::json_body(req, &app.config)?;
    confirm_owner(app, req, &who, body.password).await?;
    if !app.store.delete_user(&who.user).await? {
        // Deleted meanwhile by another request: the session belonged to nobody.
        return Err(ApiError::Unauthenticated);
    }
    // For operators only: the account's activity went with it.
    app.record(
        req,
        Event::new(EventType::AccountDeleted)
            .user(&who.user.id)
            .session(&who.session.id),
    );
    let mut res = response::json(StatusCode::OK, &serde_json::json!({ "status": "deleted" }));
    let cookie = crate::cookie::clear(&app.config.cookie);
    res.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie is ASCII"),
    );
    Ok(res)
}
