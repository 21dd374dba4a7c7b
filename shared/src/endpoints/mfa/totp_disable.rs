//! `POST /auth/mfa/totp/disable` (signed in, step-up) {current_password?} → 200
//! `{"status":"disabled"}`. With no passkey left, the recovery codes go too: they stand in for
//! a second factor the account no longer has.

use super::{StepUpBody, notify};
use crate::App;
use crate::endpoints::account::{confirm_owner, mails};
use crate::error::ApiError;
use crate::request::{HttpRequest, client_ip};
use crate::response::{self, HttpResponse};
use http::StatusCode;

/// Turns the authenticator app off. Answers the same when it was off already (a repeated
/// click), without a mail.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit("totp-disable", &client_ip(req, &app.config))
        .await?;
    let who = app.authenticate(req).await?;
    let body: StepUpBody = crate::request::json_body(req, &app.config)?;
    confirm_owner(app, &who, body.current_password).await?;
    let removed = app.store.remove_totp(&who.user.id).await?;
    let res = response::json(StatusCode::OK, &serde_json::json!({ "status": "disabled" }));
    if !removed {
        return Ok(res);
    }
    let left = app.store.user_by_id(&who.user.id).await?;
    if left.is_some_and(|u| u.factors.is_empty()) {
        app.store.delete_recovery_codes(&who.user.id).await?;
    }
    let mail = mails::second_factor_changed(
        &app.config,
        &who.user.email,
        "The authenticator app was turned off",
    );
    Ok(notify(app, res, mail).await)
}
