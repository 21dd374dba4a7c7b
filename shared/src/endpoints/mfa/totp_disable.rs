//! `POST /auth/mfa/totp/disable` (signed in, step-up) {current_password?} → 200
//! `{"status":"disabled"}`. With no passkey left, the recovery codes go too: they stand in for
//! a second factor the account no longer has.

use super::StepUpBody;
use crate::App;
use crate::endpoints::account::{confirm_owner, mails};
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use http::StatusCode;

/// Turns the authenticator app off, telling the owner first: a factor never leaves an account
/// unannounced (a mail outage is 503 `mail_unavailable` with nothing changed), while one is
/// added whatever the mail does (see `notify`). Answers the same when it was off already (a
/// repeated click), without a mail.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "totp-disable").await?;
    let who = app.authenticate(req).await?;
    let body: StepUpBody = crate::request::json_body(req, &app.config)?;
    confirm_owner(app, req, &who, body.current_password).await?;
    let res = response::json(StatusCode::OK, &serde_json::json!({ "status": "disabled" }));
    if !who.user.factors.totp {
        return Ok(res);
    }
    app.send_mail(&mails::second_factor_changed(
        &app.config,
        &who.user.email,
        "The authenticator app was turned off",
    ))
    .await?;
    app.store.remove_totp(&who.user.id).await?;
    app.record(
        req,
        Event::new(EventType::TotpDisabled)
            .user(&who.user.id)
            .session(&who.session.id),
    );
    let left = app.store.user_by_id(&who.user.id).await?;
    if left.is_some_and(|u| u.factors.is_empty()) {
        app.store.delete_recovery_codes(&who.user.id).await?;
    }
    Ok(res)
}
