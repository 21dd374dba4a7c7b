//! `POST /auth/password/forgot` {email} → 202 `{"status":"reset_sent"}`, whatever the
//! address: an account gets a reset mail (a link and a code, for 15 minutes), any other
//! address a notice that it has no account, so both take the same time.

use super::{
    EmailBody, accepted, mail_then_decoy, mail_then_store, mails, new_challenge, parse_email,
};
use crate::App;
use crate::error::ApiError;
use crate::mailed::SHORT_LIFETIME;
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::{ChallengeAction, ChallengeKey};

/// Mails a password reset to the account with this address, if there is one.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    super::count_request(app, req, "password-forgot").await?;
    let body: EmailBody = crate::request::json_body(req, &app.config)?;
    let email = parse_email(&body.email)?;
    app.count_mail_to(req, &email).await?;
    match app.store.user_by_email(&email).await? {
        Some(user) => {
            // Accounts that only ever signed in through an identity provider may set a
            // password this way too: the mail proves the address as well as a password would.
            let action = ChallengeAction::ResetPassword { user_id: user.id };
            let c = new_challenge(
                app,
                ChallengeKey::password_reset(&email),
                &email,
                action,
                SHORT_LIFETIME,
            )?;
            let mail = mails::reset_password(&app.config, &email, &c.token, &c.code)?;
            mail_then_store(app, &mail, &c.record).await?;
        }
        None => {
            mail_then_decoy(app, &mails::no_account(&app.config, &email), SHORT_LIFETIME).await?
        }
    }
    Ok(accepted("reset_sent"))
}
