//! `POST /auth/passkeys/register/begin` (signed in, step-up) → the creation options, and
//! `POST /auth/passkeys/register/finish` {credential, name?} → 201 the passkey (and, when it
//! is the account's first factor, its recovery codes, shown once).

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{
    PasskeyView, checked_name, credential_json, descriptor, issue_challenge, options_answer,
    rejected, take_challenge, timeout_ms,
};
use crate::App;
use crate::endpoints::account::{confirm_owner, mails};
use crate::endpoints::mfa;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::recovery::RecoveryCode;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::store::{CeremonyPurpose, FactorId, Passkey, PasskeyInsert, RecoveryCodes, UserRecord};
use crate::webauthn::SUPPORTED_ALGORITHMS;
use crate::webauthn::ceremony::{NewCredential, Registration};
use crate::webauthn::json::{
    AuthenticatorSelection, CreationOptions, CredentialParameters, PUBLIC_KEY,
    RegistrationResponse, RpEntity, UserEntity,
};

/// The name a passkey gets when the client sends none.
const DEFAULT_NAME: &str = "Passkey";

#[derive(Deserialize)]
struct BeginBody {
    #[serde(default)]
    current_password: Option<String>,
}

/// Confirms the owner (step-up), then issues a registration challenge bound to the user and
/// their session epoch, and answers the creation options.
pub async fn begin(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    // Per IP, as every step-up: the password it may check is a guess otherwise unbounded
    // but for the lockout.
    app.rate_limit(req, "passkey-register-begin").await?;
    let who = app.authenticate(req).await?;
    let body: BeginBody = crate::request::json_body(req, &app.config)?;
    confirm_owner(app, req, &who, body.current_password).await?;
    let user = &who.user;
    let challenge = issue_challenge(
        app,
        CeremonyPurpose::Register {
            user_id: user.id.clone(),
            user_epoch: user.session_epoch,
        },
    )
    .await?;
    let existing = app.store.passkeys_of(&user.id).await?;
    let rp = &app.config.webauthn;
    let options = CreationOptions {
        rp: RpEntity {
            id: rp.id.clone(),
            name: rp.name.clone(),
        },
        user: UserEntity {
            id: crate::crypto::b64url(user.id.as_str().as_bytes()),
            name: user.email.as_str().to_owned(),
            display_name: user.email.as_str().to_owned(),
        },
        challenge,
        pub_key_cred_params: SUPPORTED_ALGORITHMS
            .iter()
            .map(|&alg| CredentialParameters {
                kind: PUBLIC_KEY,
                alg,
            })
            .collect(),
        timeout: timeout_ms(),
        exclude_credentials: existing.iter().map(descriptor).collect(),
        authenticator_selection: AuthenticatorSelection {
            resident_key: "required",
            require_resident_key: true,
            user_verification: "required",
        },
        attestation: "none",
    };
    Ok(options_answer(options))
}

#[derive(Deserialize)]
struct FinishBody {
    credential: serde_json::Value,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize)]
struct Registered<'a> {
    passkey: PasskeyView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

/// Verifies the registration (§7.1) against the challenge issued to this user, mails the
/// owner, and stores the passkey; the account's first factor comes with recovery codes.
pub async fn finish(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    app.rate_limit(req, "passkey-register-finish").await?;
    let who = app.authenticate(req).await?;
    let body: FinishBody = crate::request::json_body(req, &app.config)?;
    let name = match &body.name {
        Some(n) => checked_name(n)?,
        None => DEFAULT_NAME.to_owned(),
    };
    let response: RegistrationResponse = credential_json(body.credential)?;
    let registration = Registration::parse(&response, |o| app.config.is_trusted_origin(o))?;
    // Taken before the rest is checked: a refused response spends its challenge too.
    let purpose = take_challenge(app, &registration.challenge).await?;
    let user = &who.user;
    let ours = CeremonyPurpose::Register {
        user_id: user.id.clone(),
        user_epoch: user.session_epoch,
    };
    if purpose != ours {
        return Err(ApiError::ChallengeExpired);
    }
    let credential = registration
        .verify(&app.config.webauthn.id_hash, &SUPPORTED_ALGORITHMS)
        .map_err(rejected)?;
    // Refused before any mail: a credential that is registered already changes nothing.
    if app
        .store
        .passkey_by_credential(&credential.credential_id)
        .await?
        .is_some()
    {
        return Err(ApiError::PasskeyExists);
    }
    let passkey = new_passkey(app, user, credential, name)?;
    let codes = store_passkey(app, user, &passkey).await?;
    app.record(
        req,
        Event::new(EventType::PasskeyAdded)
            .user(&user.id)
            .session(&who.session.id),
    );
    let body = Registered {
        passkey: PasskeyView::of(&passkey),
        recovery_codes: codes.map(|c| c.iter().map(RecoveryCode::display).collect()),
    };
    // Told after, whatever the mail does: a new factor makes the account no weaker.
    let mail = mails::passkey_added(&app.config, &user.email, &passkey.name);
    Ok(mfa::notify(app, response::json(StatusCode::CREATED, &body), mail).await)
}

fn new_passkey(
    app: &App,
    user: &UserRecord,
    credential: NewCredential,
    name: String,
) -> Result<Passkey, ApiError> {
    Ok(Passkey {
        user_id: user.id.clone(),
        id: FactorId::generate()?,
        credential_id: credential.credential_id,
        public_key: credential.public_key,
        sign_count: credential.sign_count,
        transports: credential.transports,
        backup_eligible: credential.backup_eligible,
        backed_up: credential.backed_up,
        name,
        created_at: app.now(),
        last_used_at: None,
    })
}

/// Stores the passkey; with recovery codes if it is the account's first factor. Returns the
/// codes made. If a factor was added meanwhile (or the first one went), the user is read
/// again and the write tried once more as that says.
async fn store_passkey(
    app: &App,
    user: &UserRecord,
    passkey: &Passkey,
) -> Result<Option<Vec<RecoveryCode>>, ApiError> {
    let mut first = user.factors.is_empty();
    for _ in 0..2 {
        let codes = if first {
            Some(RecoveryCode::generate_set()?)
        } else {
            None
        };
        let record = codes.as_ref().map(|codes| RecoveryCodes {
            user_id: user.id.clone(),
            code_hashes: codes.iter().map(|c| c.hash(&user.id)).collect(),
            created_at: app.now(),
        });
        match app.store.add_passkey(passkey, record.as_ref()).await? {
            PasskeyInsert::Inserted => return Ok(codes),
            PasskeyInsert::CredentialTaken => return Err(ApiError::PasskeyExists),
            PasskeyInsert::FactorsChanged => {
                let now = app
                    .store
                    .user_by_id(&user.id)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                first = now.factors.is_empty();
            }
        }
    }
    Err(ApiError::Internal(
        "the account's factors changed twice during one passkey registration".into(),
    ))
}
