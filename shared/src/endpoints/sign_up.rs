//! `POST /auth/sign-up` {email, password} → 202 `{"status":"verification_sent"}`, the same
//! answer whether or not the address has an account: a new address gets a mail that proves
//! it (see `account::verify_email`), an address with an account gets a notice. With
//! `AUTHFN_EMAIL_VERIFICATION=off`: 201 with a new session, or 409 `email_taken`.

use http::StatusCode;

use super::account::{self, mails};
use super::credentials::{Credentials, session_issued};
use crate::App;
use crate::config::EmailVerification;
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::mailed::VERIFY_EMAIL_LIFETIME;
use crate::password::PasswordHashString;
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::{ChallengeAction, ChallengeKey, Insert, UserRecord};
use crate::token::UserId;

/// Mails the proof of a new address (or a notice to an address with an account); with
/// verification off, creates the account and its first session at once.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "sign-up").await?;
    let creds = Credentials::parse(app, req)?;
    let password = creds.password_for_sign_up()?;
    if app.config.email_verification == EmailVerification::Off {
        let hash = app.passwords.hash(password).await?;
        return create_at_once(app, req, creds, hash).await;
    }
    // Counted for every address alike, so a refusal (429) says nothing about an account.
    app.count_mail_to(req, &creds.email).await?;
    // One argon2 run whether or not the address has an account: the time taken says nothing.
    let hash = app.passwords.hash(password).await?;
    if app.store.user_by_email(&creds.email).await?.is_some() {
        let notice = mails::account_exists(&app.config, &creds.email);
        account::mail_then_decoy(app, &notice, VERIFY_EMAIL_LIFETIME).await?;
    } else {
        // Keyed by the address: a newer sign-up replaces this one, and whoever proves the
        // address first gets the account, so nobody can hold an address by signing up first.
        let action = ChallengeAction::SignUp {
            user_id: UserId::generate()?,
            password_hash: hash,
        };
        let key = ChallengeKey::sign_up(&creds.email);
        let c = account::new_challenge(app, key, &creds.email, action, VERIFY_EMAIL_LIFETIME)?;
        let mail = mails::verify_email(&app.config, &creds.email, &c.token, &c.code)?;
        account::mail_then_store(app, &mail, &c.record).await?;
    }
    Ok(account::accepted("verification_sent"))
}

/// The account and its first session, without a proven address (verification off).
async fn create_at_once(
    app: &App,
    req: &HttpRequest,
    creds: Credentials,
    hash: PasswordHashString,
) -> Result<HttpResponse, ApiError> {
    let user = UserRecord {
        id: UserId::generate()?,
        email: creds.email.clone(),
        password_hash: Some(hash),
        created_at: app.now(),
        email_verified: false,
        session_epoch: 0,
        factors: crate::store::FactorSummary::default(),
    };
    let (session, token) = app.first_session(req, &user)?;
    // User, email claim and first session are one atomic write: a lost race or an outage
    // leaves nothing behind.
    match app.store.create_user(&user, &session).await? {
        Insert::Inserted => {}
        Insert::AlreadyExists => return Err(ApiError::EmailTaken),
    }
    let method = AuthMethod::Password;
    app.record(
        req,
        Event::new(EventType::SignUp).user(&user.id).method(method),
    );
    app.record(
        req,
        Event::new(EventType::SignInSucceeded)
            .user(&user.id)
            .session(&session.id)
            .method(method),
    );
    // As at sign-in, a session the request arrived with (another account's, perhaps) ends:
    // the browser now holds the new account's session only.
    app.end_presented_session(req).await?;
    session_issued(app, StatusCode::CREATED, &session, &token, creds.delivery)
}
