//! `POST /auth/mfa/totp/confirm` (signed in) {code} → 200 `{"recovery_codes": [...]}`: the
//! first code from the authenticator app turns it on, and the account gets a fresh set of ten
//! recovery codes, shown this once.

use serde::Deserialize;

use super::{
    SecretUse, new_recovery_codes, notify, open_secret, recovery_codes_answer, seal_secret,
    typed_code,
};
use crate::App;
use crate::endpoints::account::mails;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::TotpFactor;

#[derive(Deserialize)]
struct Body {
    code: String,
}

/// Checks the code against the live enrolment, then turns TOTP on in one write (enrolment
/// taken, factor and recovery codes stored, the user's summary updated).
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "totp-confirm").await?;
    let who = app.authenticate(req).await?;
    let body: Body = crate::request::json_body(req, &app.config)?;
    let user = &who.user;
    if user.factors.totp {
        return Err(ApiError::TotpEnabled);
    }
    let now = app.now();
    let enrolment = app
        .store
        .totp_enrolment(&user.id, now)
        .await?
        .ok_or(ApiError::EnrolmentExpired)?;
    let secret = open_secret(
        app,
        SecretUse::Enrolment,
        &user.id,
        &enrolment.encrypted_secret,
    )?;
    let step = secret
        .verify(&typed_code(&body.code), now)
        .ok_or(ApiError::InvalidEnrolmentCode)?;
    let factor = TotpFactor {
        user_id: user.id.clone(),
        encrypted_secret: seal_secret(app, SecretUse::Factor, &user.id, &secret)?,
        // The confirming code is used: it cannot also finish a sign-in.
        last_step: Some(step),
        created_at: now,
        last_used_at: None,
    };
    let (codes, shown) = new_recovery_codes(app, &user.id)?;
    if !app
        .store
        .confirm_totp(&enrolment, &factor, &codes, now)
        .await?
    {
        // Another request confirmed or replaced it meanwhile.
        let on = app
            .store
            .user_by_id(&user.id)
            .await?
            .is_some_and(|u| u.factors.totp);
        return Err(if on {
            ApiError::TotpEnabled
        } else {
            ApiError::EnrolmentExpired
        });
    }
    app.record(
        req,
        Event::new(EventType::TotpEnabled)
            .user(&user.id)
            .session(&who.session.id),
    );
    let mail = mails::second_factor_changed(
        &app.config,
        &user.email,
        "An authenticator app was turned on",
    );
    Ok(notify(app, recovery_codes_answer(shown), mail).await)
}
