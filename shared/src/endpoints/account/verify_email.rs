//! `POST /auth/verify-email` {token} or {email, code} → 200 with the new account's first
//! session. The account is made here, when the address is proven, not at sign-up.

use http::StatusCode;
use serde::Deserialize;

use super::ProofFields;
use crate::App;
use crate::endpoints::credentials::{SessionDelivery, session_issued};
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::{ChallengeAction, ChallengeKey, SignUpOutcome, UserRecord};

#[derive(Deserialize)]
struct Body {
    #[serde(flatten)]
    proof: ProofFields,
    #[serde(default)]
    session_delivery: SessionDelivery,
}

/// Proves a pending sign-up: creates its account, proven, with its first session.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    super::count_request(app, req, "verify-email").await?;
    let body: Body = crate::request::json_body(req, &app.config)?;
    let delivery = body.session_delivery.checked(req)?;
    let proof = body.proof.parse()?;
    let challenge = proof.challenge(app, ChallengeKey::sign_up).await?;
    let ChallengeAction::SignUp {
        user_id,
        password_hash,
    } = &challenge.action
    else {
        return Err(proof.refused());
    };
    let user = UserRecord {
        id: user_id.clone(),
        email: challenge.email.clone(),
        password_hash: Some(password_hash.clone()),
        created_at: app.now(),
        email_verified: true,
        session_epoch: 0,
        factors: crate::store::FactorSummary::default(),
    };
    let (session, token) = app.first_session(req, &user)?;
    // The challenge, the user, its email claim and its session: one atomic write, so a link
    // followed twice at once makes one account.
    match app
        .store
        .complete_sign_up(&challenge.proof(), &user, &session, app.now())
        .await?
    {
        SignUpOutcome::Created => {}
        SignUpOutcome::ChallengeGone => return Err(proof.refused()),
        SignUpOutcome::EmailTaken => {
            // The address got an account since this sign-up was mailed (another sign-up for it
            // was proven, or its owner came through an identity provider). Only the mailbox's
            // owner holds this proof, so saying so reveals nothing; the proof is spent.
            app.store
                .take_challenge(&challenge.proof(), app.now())
                .await?;
            return Err(ApiError::EmailTaken);
        }
    }
    app.record(
        req,
        Event::new(EventType::SignUp)
            .user(&user.id)
            .method(AuthMethod::Password),
    );
    app.record(req, Event::new(EventType::EmailVerified).user(&user.id));
    app.record(
        req,
        Event::new(EventType::SignInSucceeded)
            .user(&user.id)
            .session(&session.id)
            .method(AuthMethod::EmailVerification),
    );
    app.end_presented_session(req).await?;
    session_issued(app, StatusCode::OK, &session, &token, delivery)
}
