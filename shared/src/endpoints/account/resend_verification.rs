//! `POST /auth/verify-email/resend` {email} → 202 `{"status":"verification_sent"}`, whatever
//! the address: a pending sign-up gets a new mail (and the old link and code stop working);
//! an address with an account gets the "you have an account" notice; any other address a
//! mail saying no sign-up is waiting, so every case takes the same time.

use super::{
    EmailBody, accepted, mail_then_decoy, mail_then_store, mails, new_challenge, parse_email,
};
use crate::App;
use crate::error::ApiError;
use crate::mailed::VERIFY_EMAIL_LIFETIME;
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::ChallengeKey;

/// Mails a pending sign-up again, with a fresh link and code.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    super::count_request(app, req, "verify-email-resend").await?;
    let body: EmailBody = crate::request::json_body(req, &app.config)?;
    let email = parse_email(&body.email)?;
    app.count_mail_to(req, &email).await?;
    let key = ChallengeKey::sign_up(&email);
    if let Some(pending) = app.store.challenge(&key, app.now()).await? {
        // The same sign-up (its user id and password hash), new secrets, a new 24 hours.
        let c = new_challenge(app, key, &email, pending.action, VERIFY_EMAIL_LIFETIME)?;
        let mail = mails::verify_email(&app.config, &email, &c.token, &c.code)?;
        mail_then_store(app, &mail, &c.record).await?;
    } else if app.store.user_by_email(&email).await?.is_some() {
        mail_then_decoy(
            app,
            &mails::account_exists(&app.config, &email),
            VERIFY_EMAIL_LIFETIME,
        )
        .await?;
    } else {
        mail_then_decoy(
            app,
            &mails::nothing_pending(&app.config, &email),
            VERIFY_EMAIL_LIFETIME,
        )
        .await?;
    }
    Ok(accepted("verification_sent"))
}
