//! `POST /auth/passkeys/sign-in/begin` {mfa_token?} → the request options, and
//! `POST /auth/passkeys/sign-in/finish` {credential, mfa_token?, session_delivery?,
//! device_token?} → the sign-in session answer.
//!
//! Without a pending sign-in the ceremony is a discoverable sign-in: any passkey, its user
//! named by the authenticator's `userHandle`; a passkey with user verification is two factors
//! by itself, so the answer is a session. With a pending sign-in presented (the cookie, or
//! `mfa_token`), the challenge is bound to it and only that user's passkeys answer it: the
//! passkey is the second factor, and the pending sign-in is taken (one winner) for the session.

use serde::Deserialize;

use super::{
    credential_json, descriptor, issue_challenge, options_answer, rejected, rejected_passkey,
    take_challenge, timeout_ms,
};
use crate::App;
use crate::endpoints::credentials::SessionDelivery;
use crate::endpoints::mfa::{self, MAX_FACTOR_FAILURES, Proven};
use crate::error::ApiError;
use crate::events::{AuthMethod, Event, EventType};
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::store::{CeremonyPurpose, Passkey, UserRecord};
use crate::token::TokenHash;
use crate::webauthn::ceremony::{Assertion, Rejection};
use crate::webauthn::json::{AuthenticationResponse, RequestOptions};

#[derive(Deserialize)]
struct BeginBody {
    #[serde(default)]
    mfa_token: Option<String>,
}

/// Issues a sign-in challenge: bound to the presented pending sign-in, if it is live, and
/// then naming its user's passkeys; else for a discoverable sign-in.
pub async fn begin(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "passkey-sign-in-begin").await?;
    let body: BeginBody = crate::request::json_body(req, &app.config)?;
    let pending = match app.presented_pending(req, body.mfa_token.as_deref()) {
        Some(token) => app.store.pending_sign_in(&token.hash(), app.now()).await?,
        None => None,
    };
    // A stale pending cookie is no reason to refuse: a discoverable sign-in needs none.
    let (purpose, allow) = match pending {
        Some(p) => {
            let theirs = app.store.passkeys_of(&p.user_id).await?;
            (
                CeremonyPurpose::SecondFactor {
                    pending: p.token_hash,
                },
                theirs.iter().map(descriptor).collect(),
            )
        }
        None => (CeremonyPurpose::SignIn, Vec::new()),
    };
    let challenge = issue_challenge(app, purpose).await?;
    let options = RequestOptions {
        challenge,
        timeout: timeout_ms(),
        rp_id: app.config.webauthn.id.clone(),
        allow_credentials: allow,
        user_verification: "required",
    };
    Ok(options_answer(options))
}

#[derive(Deserialize)]
struct FinishBody {
    credential: serde_json::Value,
    #[serde(default)]
    mfa_token: Option<String>,
    #[serde(default)]
    session_delivery: SessionDelivery,
    // `device_token` is not read: a passkey cannot be guessed, so no lockout follows the
    // device rule here; serde ignores it like any unknown member.
}

/// Verifies the assertion (§7.2) against the challenge it carries, and signs the user in.
pub async fn finish(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "passkey-sign-in-finish").await?;
    let body: FinishBody = crate::request::json_body(req, &app.config)?;
    let delivery = body.session_delivery.checked(req)?;
    let response: AuthenticationResponse = credential_json(body.credential)?;
    let assertion = Assertion::parse(&response, |o| app.config.is_trusted_origin(o))?;
    // Taken before the rest is checked: a refused response spends its challenge too.
    let user = match take_challenge(app, &assertion.challenge).await? {
        CeremonyPurpose::SignIn => discoverable(app, req, &assertion).await?,
        CeremonyPurpose::SecondFactor { pending } => {
            let presented = app
                .presented_pending(req, body.mfa_token.as_deref())
                .map(|t| t.hash());
            if presented.as_ref() != Some(&pending) {
                // Bound to a pending sign-in this client does not hold.
                return Err(ApiError::MfaExpired);
            }
            second_factor(app, req, &assertion, &pending).await?
        }
        CeremonyPurpose::Register { .. } => return Err(ApiError::ChallengeExpired),
    };
    let last = Proven::by(AuthMethod::Passkey);
    mfa::complete_sign_in(app, req, &user, last, delivery).await
}

/// A discoverable sign-in: the passkey names its user, and must be theirs by `userHandle`. A
/// refused passkey is a `sign_in.failed` (with its owner when the passkey is known).
async fn discoverable(
    app: &App,
    req: &HttpRequest,
    assertion: &Assertion,
) -> Result<UserRecord, ApiError> {
    let failed = |owner: Option<&Passkey>, e: &ApiError| {
        let event = Event::new(EventType::SignInFailed)
            .method(AuthMethod::Passkey)
            .reason(e.code());
        match owner {
            Some(p) => event.user(&p.user_id),
            None => event,
        }
    };
    let Some(passkey) = app
        .store
        .passkey_by_credential(&assertion.credential_id)
        .await?
    else {
        let e = rejected(Rejection::UnknownCredential);
        app.record(req, failed(None, &e));
        return Err(e);
    };
    let handle = passkey.user_id.as_str().as_bytes();
    let checked = if assertion.user_handle.as_deref() != Some(handle) {
        Err(rejected_passkey(&passkey, Rejection::UserHandle))
    } else {
        verify_and_record(app, req, assertion, &passkey).await
    };
    if let Err(e) = checked {
        if matches!(e, ApiError::PasskeyRejected(_)) {
            app.record(req, failed(Some(&passkey), &e));
        }
        return Err(e);
    }
    let user = app
        .store
        .user_by_id(&passkey.user_id)
        .await?
        .ok_or_else(|| rejected(Rejection::UnknownCredential))?;
    Ok(user)
}

/// The second factor of the pending sign-in `pending`: the passkey must be its user's. A
/// refused passkey counts against the pending sign-in like a wrong code (an `mfa.failed`);
/// the take is last, so of two racing answers one gets the session (and the `mfa.passed`).
async fn second_factor(
    app: &App,
    req: &HttpRequest,
    assertion: &Assertion,
    pending: &TokenHash,
) -> Result<UserRecord, ApiError> {
    let now = app.now();
    let record = app
        .store
        .pending_sign_in(pending, now)
        .await?
        .ok_or(ApiError::MfaExpired)?;
    let checked = async {
        let passkey = app
            .store
            .passkey_by_credential(&assertion.credential_id)
            .await?
            .ok_or_else(|| rejected(Rejection::UnknownCredential))?;
        if passkey.user_id != record.user_id
            || assertion
                .user_handle
                .as_deref()
                .is_some_and(|h| h != record.user_id.as_str().as_bytes())
        {
            return Err(rejected_passkey(&passkey, Rejection::OtherAccount));
        }
        verify_and_record(app, req, assertion, &passkey).await
    }
    .await;
    if let Err(e) = checked {
        if matches!(e, ApiError::PasskeyRejected(_)) {
            app.record(
                req,
                Event::new(EventType::SecondFactorFailed)
                    .user(&record.user_id)
                    .method(AuthMethod::Passkey)
                    .reason(e.code()),
            );
            app.store
                .count_pending_failure(pending, MAX_FACTOR_FAILURES, now)
                .await?;
        }
        return Err(e);
    }
    let taken = app
        .store
        .take_pending_sign_in(pending, now)
        .await?
        .ok_or(ApiError::MfaExpired)?;
    let user = app
        .store
        .user_by_id(&taken.user_id)
        .await?
        .filter(|u| u.session_epoch == taken.user_epoch)
        .ok_or(ApiError::MfaExpired)?;
    app.record(
        req,
        Event::new(EventType::SecondFactorPassed)
            .user(&user.id)
            .method(AuthMethod::Passkey),
    );
    Ok(user)
}

/// Checks the assertion under the passkey's key and counter, then records the new counter by
/// compare-and-set: of two assertions read against one counter, one wins. A counter that went
/// backwards is a `passkey.sign_count_regressed` event besides the refusal: a cloned
/// authenticator is the operator's business and the owner's.
async fn verify_and_record(
    app: &App,
    req: &HttpRequest,
    assertion: &Assertion,
    passkey: &Passkey,
) -> Result<(), ApiError> {
    let verified = assertion
        .verify(
            &app.config.webauthn.id_hash,
            &passkey.public_key,
            passkey.sign_count,
        )
        .await
        .map_err(|why| {
            if matches!(why, Rejection::CounterRegressed { .. }) {
                app.record(
                    req,
                    Event::new(EventType::PasskeySignCountRegressed).user(&passkey.user_id),
                );
            }
            rejected_passkey(passkey, why)
        })?;
    let recorded = app
        .store
        .use_passkey(
            &passkey.user_id,
            &passkey.id,
            passkey.sign_count,
            verified.sign_count,
            verified.backed_up,
            app.now(),
        )
        .await?;
    if !recorded {
        return Err(rejected_passkey(passkey, Rejection::LostRace));
    }
    Ok(())
}
