//! Passkeys (WebAuthn Level 3): registering them (signed in, with step-up), signing in with
//! one alone or as the second factor of a pending sign-in, renaming and deleting them.
//!
//! The checks of a response are `webauthn::ceremony`'s; what needs the store is here: each
//! ceremony's challenge (32 random bytes, stored as their hash, single use, five minutes,
//! bound to what it was issued for), the credential's owner, and the counter's
//! compare-and-set. A response that is not WebAuthn is 400 `invalid_credential`; one that
//! fails a check is 401 `passkey_rejected`, and the log line says which check.

use std::time::Duration;

use http::StatusCode;
use serde::Serialize;

use crate::App;
use crate::clock::UnixTime;
use crate::error::{ApiError, context};
use crate::response::{self, HttpResponse};
use crate::store::{CeremonyPurpose, Passkey, WebAuthnChallenge};
use crate::token::TokenHash;
use crate::webauthn::ceremony::{Failure, Rejection};
use crate::webauthn::json::{CredentialDescriptor, PUBLIC_KEY};

pub mod manage;
pub mod register;
pub mod sign_in;

/// How long a ceremony's challenge lives (and the `timeout` the browser is given).
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A new challenge for `purpose`, stored; returns its bytes, base64url, for the options.
async fn issue_challenge(app: &App, purpose: CeremonyPurpose) -> Result<String, ApiError> {
    let challenge = crate::crypto::random_array::<32>()?;
    app.store
        .put_webauthn_challenge(&WebAuthnChallenge {
            challenge_hash: TokenHash::of(&challenge),
            purpose,
            expires_at: app.now().plus(CHALLENGE_LIFETIME),
        })
        .await?;
    Ok(crate::crypto::b64url(&challenge))
}

/// Takes (deletes) the live challenge a response carries: it answers this ceremony or none.
async fn take_challenge(app: &App, challenge: &[u8]) -> Result<CeremonyPurpose, ApiError> {
    app.store
        .take_webauthn_challenge(&TokenHash::of(challenge), app.now())
        .await?
        .map(|c| c.purpose)
        .ok_or(ApiError::ChallengeExpired)
}

/// `200 {"publicKey": options}`: what the SPA hands to `PublicKeyCredential.parse*OptionsFromJSON`.
fn options_answer(options: impl Serialize) -> HttpResponse {
    response::json(StatusCode::OK, &serde_json::json!({ "publicKey": options }))
}

fn timeout_ms() -> u64 {
    u64::try_from(CHALLENGE_LIFETIME.as_millis()).expect("five minutes fit in u64")
}

/// A stored passkey as `allowCredentials` / `excludeCredentials` name it.
fn descriptor(p: &Passkey) -> CredentialDescriptor {
    CredentialDescriptor {
        kind: PUBLIC_KEY,
        id: crate::crypto::b64url(p.credential_id.as_bytes()),
        transports: p.transports.clone(),
    }
}

/// A passkey as the account's owner sees it in answers and lists: nothing secret, and not the
/// key (the credential id neither: the `id` names it to rename and delete).
#[derive(Debug, Serialize)]
pub(crate) struct PasskeyView<'a> {
    id: &'a str,
    name: &'a str,
    created_at: UnixTime,
    last_used_at: Option<UnixTime>,
    backed_up: bool,
    transports: &'a [String],
}

impl<'a> PasskeyView<'a> {
    /// The view of `p`.
    pub(crate) fn of(p: &'a Passkey) -> Self {
        PasskeyView {
            id: p.id.as_str(),
            name: &p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backed_up: p.backed_up,
            transports: &p.transports,
        }
    }
}

/// A name the user chose, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
fn checked_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::invalid_field(
            "name",
            format!("a passkey name is 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            "a passkey name has no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Reads the `credential` member as a WebAuthn JSON response: a shape that is not one is 400
/// `invalid_credential`, not the generic `invalid_request`.
fn credential_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|_| {
        ApiError::InvalidPasskeyCredential(crate::webauthn::ceremony::Malformed(
            "not a PublicKeyCredential JSON",
        ))
    })
}

/// A refused check, as the client sees it (401 `passkey_rejected`), the check in the log.
fn rejected(why: Rejection) -> ApiError {
    ApiError::PasskeyRejected(Box::new(why))
}

/// A refused check of a known passkey: the log names the passkey by its (non-secret) id.
fn rejected_passkey(p: &Passkey, why: Rejection) -> ApiError {
    ApiError::PasskeyRejected(context(format!("passkey {}", p.id.as_str()), why))
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Malformed(m) => ApiError::InvalidPasskeyCredential(m),
            Failure::Rejected(r) => rejected(r),
        }
    }
}
