//! `POST /auth/email/change` (signed in) {new_email, password} → 202
//! `{"status":"verification_sent"}`, and `POST /auth/email/verify` {token} (or, signed in,
//! {code}) → 200 `{"email": …}`. The address changes only when the new one is proven, and
//! never onto an address that has an account.
//!
//! The person asking is signed in, so the answer must not tell them whether another account
//! has the new address: it is the same 202 either way, and the new address gets a notice
//! instead of a link when it has an account. The current address is told in both cases.

use http::StatusCode;
use serde::Deserialize;

use super::{
    accepted, challenge_by_code, confirm_owner, mail_then_decoy, mail_then_store, mails,
    new_challenge,
};
use crate::App;
use crate::email::Email;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::mailed::{MailCode, MailToken, SHORT_LIFETIME};
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::{ChallengeAction, ChallengeKey, EmailChallenge, EmailChange};

#[derive(Deserialize)]
struct RequestBody {
    new_email: String,
    /// Required when the account has a password; see [`confirm_owner`].
    #[serde(default)]
    password: Option<String>,
}

/// Mails a proof to the new address (or, if it has an account, a notice), and a notice to
/// the current one.
pub async fn request(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    super::count_request(app, req, "email-change").await?;
    let who = app.authenticate(req).await?;
    let body: RequestBody = crate::request::json_body(req, &app.config)?;
    let new = Email::parse(&body.new_email).map_err(|m| ApiError::invalid_field("new_email", m))?;
    confirm_owner(app, req, &who, body.password).await?;
    if new == who.user.email {
        return Err(ApiError::invalid_field(
            "new_email",
            "this is the account's address already",
        ));
    }
    let old = &who.user.email;
    // Both addresses get mail, so both budgets count, whatever the new address holds.
    app.count_mail_to(req, &new).await?;
    app.count_mail_to(req, old).await?;
    // The current address hears first: no proof is mailed anywhere unless its owner was told
    // (a stolen session and password show up in the real owner's mailbox).
    app.send_mail(&mails::email_change_requested(&app.config, old, &new))
        .await?;
    if app.store.user_by_email(&new).await?.is_some() {
        // The same mails and the same one challenge write as the other path: the answer and
        // its time say nothing about the other account.
        mail_then_decoy(
            app,
            &mails::email_change_onto_account(&app.config, &new),
            SHORT_LIFETIME,
        )
        .await?;
    } else {
        // Keyed by the user: a second change voids the first, whatever address it was to.
        let action = ChallengeAction::ChangeEmail {
            user_id: who.user.id.clone(),
        };
        let c = new_challenge(
            app,
            ChallengeKey::email_change(&who.user.id),
            &new,
            action,
            SHORT_LIFETIME,
        )?;
        let mail = mails::verify_email_change(&app.config, &new, &c.token, &c.code)?;
        mail_then_store(app, &mail, &c.record).await?;
    }
    Ok(accepted("verification_sent"))
}

#[derive(Deserialize)]
struct VerifyBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// Proves the new address: moves the account to it, proven, taking the challenge in the same
/// write. The link works without a session (it may be opened on another device); the code is
/// typed where the change was asked for, so it needs the account's session.
pub async fn verify(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    super::count_request(app, req, "email-verify").await?;
    let body: VerifyBody = crate::request::json_body(req, &app.config)?;
    let (challenge, refused) = match (body.token, body.code) {
        (Some(token), None) => (by_token(app, &token).await?, ApiError::InvalidMailToken),
        (None, Some(code)) => {
            let who = app.authenticate(req).await?;
            let code = MailCode::normalise(&code)
                .ok_or_else(|| ApiError::invalid_field("code", "the code is six digits"))?;
            (
                challenge_by_code(app, ChallengeKey::email_change(&who.user.id), &code).await?,
                ApiError::InvalidMailCode,
            )
        }
        _ => {
            return Err(ApiError::invalid_field(
                "body",
                "send either token, or code",
            ));
        }
    };
    let ChallengeAction::ChangeEmail { user_id } = &challenge.action else {
        return Err(refused);
    };
    match app
        .store
        .change_email(&challenge.proof(), user_id, &challenge.email, app.now())
        .await?
    {
        EmailChange::Changed => {}
        EmailChange::ChallengeGone => return Err(refused),
        EmailChange::EmailTaken => {
            // The address got an account since the mail left. Only its mailbox's owner holds
            // this proof, so saying so reveals nothing; the proof is spent.
            app.store
                .take_challenge(&challenge.proof(), app.now())
                .await?;
            return Err(ApiError::EmailTaken);
        }
    }
    app.record(req, Event::new(EventType::EmailChanged).user(user_id));
    Ok(response::json(
        StatusCode::OK,
        &serde_json::json!({ "email": challenge.email.as_str() }),
    ))
}

/// The live email change a link's token names.
async fn by_token(app: &App, token: &str) -> Result<EmailChallenge, ApiError> {
    let token = MailToken::parse(token).ok_or(ApiError::InvalidMailToken)?;
    let found = app
        .store
        .challenge_by_token(&token.hash(), app.now())
        .await?;
    // Only an email change's challenge, under its own user's key (not a sign-up's or reset's).
    found
        .filter(|c| matches!(&c.action, ChallengeAction::ChangeEmail { user_id } if c.key == ChallengeKey::email_change(user_id)))
        .ok_or(ApiError::InvalidMailToken)
}
