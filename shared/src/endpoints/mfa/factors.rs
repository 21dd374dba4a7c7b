//! `GET /auth/mfa` (signed in) → 200 `{"totp": {"enabled", "created_at"?, "last_used_at"?},
//! "passkeys": [...], "recovery_codes_remaining", "mfa_required", "authenticated_at"}`: what a
//! security settings page shows. No secret, no credential key, no code.

use http::StatusCode;
use serde::Serialize;

use crate::App;
use crate::clock::UnixTime;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

#[derive(Serialize)]
struct Factors<'a> {
    totp: Totp,
    passkeys: Vec<PasskeyView<'a>>,
    recovery_codes_remaining: usize,
    mfa_required: bool,
    authenticated_at: UnixTime,
}

#[derive(Serialize)]
struct Totp {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<UnixTime>,
}

#[derive(Serialize)]
struct PasskeyView<'a> {
    id: &'a str,
    name: &'a str,
    created_at: UnixTime,
    last_used_at: Option<UnixTime>,
    backed_up: bool,
    transports: &'a [String],
}

/// Lists the signed-in account's second factors.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    let id = &who.user.id;
    let totp = app.store.totp_factor(id).await?;
    let passkeys = app.store.passkeys_of(id).await?;
    let remaining = app
        .store
        .recovery_codes(id)
        .await?
        .map_or(0, |c| c.code_hashes.len());
    let body = Factors {
        totp: Totp {
            enabled: totp.is_some(),
            created_at: totp.as_ref().map(|t| t.created_at),
            last_used_at: totp.as_ref().and_then(|t| t.last_used_at),
        },
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyView {
                id: p.id.as_str(),
                name: &p.name,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
                backed_up: p.backed_up,
                transports: &p.transports,
            })
            .collect(),
        recovery_codes_remaining: remaining,
        mfa_required: !who.user.factors.is_empty(),
        authenticated_at: who.session.authenticated_at,
    };
    Ok(response::json(StatusCode::OK, &body))
}
