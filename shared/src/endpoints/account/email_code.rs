//! Signing in with a mailed one-time code, without a password (what other products call email
//! OTP or a magic link). Off unless `AUTHFN_EMAIL_CODE_SIGN_IN=true`; while off, both
//! endpoints answer 404 `not_found`, as an unknown route does.
//!
//! `POST /auth/email-code/request` {email} → 202 `{"status":"code_sent"}`, whatever the
//! address: an account gets a link and a code (15 minutes), any other address a notice that
//! it has no account, so both take the same time. `POST /auth/email-code/sign-in`
//! {email, code} or {token} → 200 with a session, exactly as sign-in answers.

use serde::Deserialize;

use super::{
    EmailBody, ProofFields, accepted, mail_then_decoy, mail_then_store, mails, new_challenge,
    parse_email, signed_in,
};
use crate::App;
use crate::endpoints::credentials::SessionDelivery;
use crate::endpoints::mfa::Proven;
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::mailed::SHORT_LIFETIME;
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::{ChallengeAction, ChallengeKey};

/// Refuses as an unknown route does unless the deployment turned code sign-in on.
fn check_enabled(app: &App) -> Result<(), ApiError> {
    if app.config.email_code_sign_in {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Mails a sign-in code to the account with this address, if there is one.
pub async fn request(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    check_enabled(app)?;
    super::count_request(app, req, "email-code-request").await?;
    let body: EmailBody = crate::request::json_body(req, &app.config)?;
    let email = parse_email(&body.email)?;
    app.count_mail_to(req, &email).await?;
    match app.store.user_by_email(&email).await? {
        Some(user) => {
            let action = ChallengeAction::SignIn { user_id: user.id };
            let c = new_challenge(
                app,
                ChallengeKey::sign_in_code(&email),
                &email,
                action,
                SHORT_LIFETIME,
            )?;
            let mail = mails::sign_in_code(&app.config, &email, &c.token, &c.code)?;
            mail_then_store(app, &mail, &c.record).await?;
        }
        None => {
            mail_then_decoy(
                app,
                &mails::no_account_to_sign_in(&app.config, &email),
                SHORT_LIFETIME,
            )
            .await?
        }
    }
    Ok(accepted("code_sent"))
}

#[derive(Deserialize)]
struct SignInBody {
    #[serde(flatten)]
    proof: ProofFields,
    #[serde(default)]
    session_delivery: SessionDelivery,
}

/// Signs in with the mailed code (or link). The mail reached the address's owner, so an
/// account whose address was not yet proven (made before proofs were required) is proven now.
pub async fn sign_in(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    check_enabled(app)?;
    super::count_request(app, req, "email-code-sign-in").await?;
    let body: SignInBody = crate::request::json_body(req, &app.config)?;
    let delivery = body.session_delivery.checked(req)?;
    let proof = body.proof.parse()?;
    let challenge = match proof.challenge(app, ChallengeKey::sign_in_code).await {
        Ok(challenge) => challenge,
        Err(e @ (ApiError::InvalidMailCode | ApiError::InvalidMailToken)) => {
            // Without the account: an unknown address and a wrong code look alike here.
            let failed = Event::new(EventType::SignInFailed)
                .method(AuthMethod::EmailCode)
                .reason(e.code());
            app.record(req, failed);
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let ChallengeAction::SignIn { user_id } = &challenge.action else {
        return Err(proof.refused());
    };
    // Of two requests with one code, exactly one takes it: a code signs in once.
    if !app
        .store
        .take_challenge(&challenge.proof(), app.now())
        .await?
    {
        return Err(proof.refused());
    }
    // The account must still have the address the code was mailed to.
    let user = app
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.email == challenge.email)
        .ok_or_else(|| proof.refused())?;
    if !user.email_verified && app.store.mark_email_verified(&user.id, &user.email).await? {
        app.record(req, Event::new(EventType::EmailVerified).user(&user.id));
    }
    // A mailed code is one factor: an account with a second factor still needs it.
    signed_in(app, req, &user, Proven::by(AuthMethod::EmailCode), delivery).await
}
