//! The account flows that prove an address by mail: finishing a sign-up, password recovery,
//! and changing a password. What they share lives here: making a mailed challenge, finding
//! the one a presented link token or code proves, and handing over the new session.
//!
//! Rules every flow keeps (README, "Security model"): the mail goes out first and the
//! challenge is stored after, so a mail outage (503) leaves nothing behind; a new challenge
//! replaces the one before it; a link or code works once; a wrong code counts, and the
//! [`MAX_CODE_FAILURES`]th kills the challenge; answers to "mail this address" never say
//! whether it has an account, in their bytes or their time (every path sends one mail and
//! makes one challenge write, a decoy where there is nothing to prove). Nothing here logs an
//! address, token or code.

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;

use super::credentials::SessionDelivery;
use super::mfa::Proven;
use crate::App;
use crate::email::Email;
use crate::error::ApiError;
use crate::mail::Mail;
use crate::mailed::{self, MAX_CODE_FAILURES, MailCode, MailToken};
use crate::password::Password;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::session::Authenticated;
use crate::store::{ChallengeAction, ChallengeKey, EmailChallenge, UserRecord};
use crate::token::UserId;

pub mod change_email;
pub mod change_password;
pub mod delete_account;
pub mod email_code;
pub mod forgot_password;
pub(crate) mod mails;
pub mod resend_verification;
pub mod reset_password;
pub mod verify_email;

/// A freshly made challenge and the secrets its mail carries (the store keeps only hashes).
pub(super) struct Challenge {
    pub record: EmailChallenge,
    pub token: MailToken,
    pub code: MailCode,
}

/// A new challenge under `key` for `email`, living `lifetime` from now. Not yet stored: the
/// caller mails it first.
pub(super) fn new_challenge(
    app: &App,
    key: ChallengeKey,
    email: &Email,
    action: ChallengeAction,
    lifetime: Duration,
) -> Result<Challenge, ApiError> {
    let (token, code) = (MailToken::generate()?, MailCode::generate()?);
    let now = app.now();
    let record = EmailChallenge {
        code_hash: mailed::code_hash(&app.config.session_keys, &key, &code),
        key,
        email: email.clone(),
        token_hash: token.hash(),
        failures: 0,
        action,
        created_at: now,
        expires_at: now.plus(lifetime),
    };
    Ok(Challenge {
        record,
        token,
        code,
    })
}

/// Counts the request against the client IP's budget for `bucket`, before its body is read.
pub(super) async fn count_request(
    app: &App,
    req: &HttpRequest,
    bucket: &'static str,
) -> Result<(), ApiError> {
    app.rate_limit(req, bucket).await
}

/// Sends `mail`, then stores `challenge`: a mail outage leaves no challenge whose mail never
/// left. (A store outage after the mail leaves a mail whose link does not work, which a
/// retry replaces.)
pub(super) async fn mail_then_store(
    app: &App,
    mail: &Mail,
    challenge: &EmailChallenge,
) -> Result<(), ApiError> {
    app.send_mail(mail).await?;
    app.store.put_challenge(challenge).await?;
    Ok(())
}

/// The address a decoy challenge holds: `.invalid` is reserved (RFC 2606), so it is nobody's.
const DECOY_ADDRESS: &str = "decoy@authfn.invalid";

/// Sends `mail` (a notice, which proves nothing), then makes the store write the other path
/// of the same request makes, so both take the same time, on every store: an inert challenge,
/// under a key nothing reads (a random user's email change) and with secrets that are never
/// sent, which lapses after `lifetime`.
pub(super) async fn mail_then_decoy(
    app: &App,
    mail: &Mail,
    lifetime: Duration,
) -> Result<(), ApiError> {
    let nobody = UserId::generate()?;
    // Nobody's address either: a decoy for a notice to an account must not outlive that
    // account's deletion with its address in it.
    let no_address = Email::from_stored(DECOY_ADDRESS.to_owned());
    let decoy = new_challenge(
        app,
        ChallengeKey::email_change(&nobody),
        &no_address,
        ChallengeAction::ChangeEmail { user_id: nobody },
        lifetime,
    )?;
    mail_then_store(app, mail, &decoy.record).await
}

/// The answer to every "mail this address" request: 202 with `status`, the same bytes
/// whatever the store held.
pub(super) fn accepted(status: &'static str) -> HttpResponse {
    response::json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "status": status }),
    )
}

/// A body field holding an address.
pub(super) fn parse_email(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|m| ApiError::invalid_field("email", m))
}

/// The body of a request that only names an address.
#[derive(Deserialize)]
pub(super) struct EmailBody {
    pub email: String,
}

/// How a request proves a challenge: the link's token, or the address and the typed code.
#[derive(Deserialize)]
pub(super) struct ProofFields {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// A presented proof, parsed.
pub(super) enum Proof {
    Token(MailToken),
    Code(Email, MailCode),
}

impl ProofFields {
    pub(super) fn parse(self) -> Result<Proof, ApiError> {
        match (self.token, self.email, self.code) {
            (Some(token), None, None) => MailToken::parse(&token)
                .map(Proof::Token)
                .ok_or(ApiError::InvalidMailToken),
            (None, Some(email), Some(code)) => {
                let email = parse_email(&email)?;
                let code = MailCode::normalise(&code)
                    .ok_or_else(|| ApiError::invalid_field("code", "the code is six digits"))?;
                Ok(Proof::Code(email, code))
            }
            _ => Err(ApiError::invalid_field(
                "body",
                "send either token, or email and code",
            )),
        }
    }
}

impl Proof {
    /// The answer when the proof names no live challenge.
    pub(super) fn refused(&self) -> ApiError {
        match self {
            Proof::Token(_) => ApiError::InvalidMailToken,
            Proof::Code(..) => ApiError::InvalidMailCode,
        }
    }

    /// The live challenge this proof proves, among those `key_for` names (one purpose: a
    /// reset's link never proves a sign-up). A wrong code is counted against the challenge
    /// it was for, which dies at the [`MAX_CODE_FAILURES`]th. Nothing is taken yet: the
    /// caller's write takes it, atomically with what proving it does.
    pub(super) async fn challenge(
        &self,
        app: &App,
        key_for: fn(&Email) -> ChallengeKey,
    ) -> Result<EmailChallenge, ApiError> {
        match self {
            Proof::Token(token) => {
                let found = app
                    .store
                    .challenge_by_token(&token.hash(), app.now())
                    .await?;
                found
                    .filter(|c| c.key == key_for(&c.email))
                    .ok_or(ApiError::InvalidMailToken)
            }
            Proof::Code(email, code) => challenge_by_code(app, key_for(email), code).await,
        }
    }
}

/// The live challenge under `key`, if `code` is its code. A wrong code is counted against it,
/// and the [`MAX_CODE_FAILURES`]th kills it. Nothing is taken.
pub(super) async fn challenge_by_code(
    app: &App,
    key: ChallengeKey,
    code: &MailCode,
) -> Result<EmailChallenge, ApiError> {
    let now = app.now();
    let challenge = app
        .store
        .challenge(&key, now)
        .await?
        .ok_or(ApiError::InvalidMailCode)?;
    if !mailed::code_matches(&app.config.session_keys, &key, code, &challenge.code_hash) {
        app.store
            .count_challenge_failure(&challenge.proof(), MAX_CODE_FAILURES, now)
            .await?;
        return Err(ApiError::InvalidMailCode);
    }
    Ok(challenge)
}

/// How recent a sign-in with every factor must be for a sensitive change (step-up).
pub const RECENT_SIGN_IN: Duration = Duration::from_secs(5 * 60);

/// Checks that the signed-in person is the account's owner, not someone holding a stolen
/// session, before a sensitive change (step-up). An account with a second factor needs a
/// sign-in with every factor in the last [`RECENT_SIGN_IN`] (`session.authenticated_at`): a
/// password is only one factor, so it does not do. An account without one confirms with its
/// current password (a wrong one counts against the address's sign-in lockout, as at sign-in),
/// or, without a password (identity provider only), by a sign-in in the last
/// [`RECENT_SIGN_IN`]. Otherwise 401 `reauthentication_required`: sign in again.
pub(crate) async fn confirm_owner(
    app: &App,
    req: &HttpRequest,
    who: &Authenticated,
    password: Option<String>,
) -> Result<(), ApiError> {
    let recent = app.now() < who.session.authenticated_at.plus(RECENT_SIGN_IN);
    if !who.user.factors.is_empty() {
        return if recent {
            Ok(())
        } else {
            Err(ApiError::ReauthenticationRequired)
        };
    }
    let Some(password) = password else {
        return if who.user.password_hash.is_none() && recent {
            Ok(())
        } else {
            Err(ApiError::ReauthenticationRequired)
        };
    };
    let password =
        Password::presented(password).map_err(|m| ApiError::invalid_field("password", m))?;
    let attempt = app
        .count_sign_in_attempt(req, &who.user.email, Some(&who.user.id), None)
        .await?;
    // An account without a password is checked against the dummy hash and refused, so the
    // time taken says nothing about whether it has one.
    if !app
        .passwords
        .verify(password, who.user.password_hash.clone())
        .await?
    {
        return Err(app.sign_in_failed(req, attempt).await?);
    }
    app.sign_in_succeeded(attempt).await
}

/// Signs `user` in after `first` proved itself: through the gate, so an account with a second
/// factor gets a pending sign-in rather than a session (see `mfa`). A session ends the one the
/// request arrived with.
pub(super) async fn signed_in(
    app: &App,
    req: &HttpRequest,
    user: &UserRecord,
    first: Proven<'_>,
    delivery: SessionDelivery,
) -> Result<HttpResponse, ApiError> {
    let step = app.pass_first_factor(req, user, first).await?;
    crate::endpoints::mfa::answer(app, req, step, StatusCode::OK, delivery).await
}
