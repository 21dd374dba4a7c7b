//! `POST /auth/mfa/recovery-codes/regenerate` (signed in, step-up) {current_password?} → 200
//! `{"recovery_codes": [...]}`: ten new codes, shown this once; every old one stops working.

use super::{StepUpBody, new_recovery_codes, notify, recovery_codes_answer};
use crate::App;
use crate::endpoints::account::{confirm_owner, mails};
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::request::HttpRequest;
use crate::response::HttpResponse;

/// Replaces the account's recovery codes; 409 `no_factor` when it has no second factor for them
/// to stand in for.
pub async fn regenerate(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "recovery-codes-regenerate").await?;
    let who = app.authenticate(req).await?;
    let body: StepUpBody = crate::request::json_body(req, &app.config)?;
    if who.user.factors.is_empty() {
        return Err(ApiError::NoFactor);
    }
    confirm_owner(app, req, &who, body.current_password).await?;
    let (codes, shown) = new_recovery_codes(app, &who.user.id)?;
    app.store.replace_recovery_codes(&codes).await?;
    app.record(
        req,
        Event::new(EventType::RecoveryCodesRegenerated)
            .user(&who.user.id)
            .session(&who.session.id),
    );
    let mail = mails::second_factor_changed(
        &app.config,
        &who.user.email,
        "New recovery codes were made (the old ones no longer work)",
    );
    Ok(notify(app, recovery_codes_answer(shown), mail).await)
}
