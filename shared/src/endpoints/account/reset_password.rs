//! `POST /auth/password/reset` {token, password} or {email, code, password} → 200 with a new
//! session. Every other session and refresh-token family of the account ends.

use serde::Deserialize;

use super::{ProofFields, signed_in};
use crate::App;
use crate::endpoints::credentials::SessionDelivery;
use crate::endpoints::mfa::Proven;
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::password::Password;
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::{ChallengeAction, ChallengeKey};

#[derive(Deserialize)]
struct Body {
    #[serde(flatten)]
    proof: ProofFields,
    password: String,
    #[serde(default)]
    session_delivery: SessionDelivery,
}

/// Sets the new password, taking the reset's challenge in the same write.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    super::count_request(app, req, "password-reset").await?;
    let body: Body = crate::request::json_body(req, &app.config)?;
    let delivery = body.session_delivery.checked(req)?;
    // Checked before the proof, so a password the policy refuses spends no try of the code.
    let password = Password::new_for_sign_up(body.password)
        .map_err(|m| ApiError::invalid_field("password", m))?;
    let proof = body.proof.parse()?;
    let challenge = proof.challenge(app, ChallengeKey::password_reset).await?;
    let ChallengeAction::ResetPassword { user_id } = &challenge.action else {
        return Err(proof.refused());
    };
    // A reset mailed to an address the account has since moved away from resets nothing:
    // whoever still reads that mailbox is not the account's owner any more.
    let Some(before) = app
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.email == challenge.email)
    else {
        return Err(proof.refused());
    };
    let hash = app.passwords.hash(password).await?;
    // Password, epoch (every session and refresh family ends) and the challenge: one write,
    // which happens only while the challenge is live, so a link resets once.
    if app
        .store
        .set_password(user_id, &hash, Some(&challenge.proof()), app.now())
        .await?
        .is_none()
    {
        return Err(proof.refused());
    }
    let user = app
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| proof.refused())?;
    app.record(req, Event::new(EventType::PasswordReset).user(&user.id));
    if !before.email_verified {
        // The reset's mail reached the address: it is proven now.
        app.record(req, Event::new(EventType::EmailVerified).user(&user.id));
    }
    // The new password is one factor: an account with a second factor still needs it, or a
    // mailbox alone would take the account over.
    let proven = Proven::by(AuthMethod::PasswordReset);
    signed_in(app, req, &user, proven, delivery).await
}
