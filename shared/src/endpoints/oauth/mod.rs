//! The token issuer's endpoints (device authorization grant, token, JWKS, discovery,
//! introspection, revocation, userinfo) and what they share: client authentication, scopes, issuing a
//! token pair.

pub mod device_authorize;
pub mod device_page;
pub mod device_verify;
pub mod discovery;
pub mod introspect;
pub mod jwks;
mod page;
pub mod revoke;
pub mod token;
pub mod userinfo;

use http::header::AUTHORIZATION;
use serde::Serialize;

use crate::App;
use crate::clock::UnixTime;
use crate::crypto::{b64url, constant_time_eq, random_array};
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::oauth::access_token::IdTokenClaims;
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::{
    AccessTokenClaims, OAuthClient, OAuthConfig, RefreshToken, UserCode, access_token, user_code,
};
use crate::protocol::{ClientId, ClientSecret, Scope};
use crate::request::{HttpRequest, Params, client_ip};
use crate::store::{DeviceAuthorization, DeviceStatus, RefreshTokenRecord, UserRecord};
use crate::token::TokenHash;

/// The issuer's settings, or 404 when no OAuth clients are configured.
fn issuer(app: &App) -> Result<&OAuthConfig, ApiError> {
    app.config.oauth.as_ref().ok_or(ApiError::NotFound)
}

fn invalid_client() -> ApiError {
    ApiError::oauth(
        OAuthErrorCode::InvalidClient,
        "unknown client, or its credentials are wrong",
    )
}

/// A `client_auth.failed` event: `reason` says which check refused, and the client is named
/// only when it is one of ours (a `client_id` nobody configured is whatever the caller typed).
fn client_auth_failed(
    app: &App,
    req: &HttpRequest,
    client: Option<&ClientId>,
    reason: &'static str,
) {
    let event = Event::new(EventType::ClientAuthFailed).reason(reason);
    app.record(
        req,
        match client {
            Some(id) => event.client(id.as_str()),
            None => event,
        },
    );
}

/// The calling client: by HTTP Basic credentials or the `client_id` (and `client_secret`)
/// parameters. A confidential client must prove its secret; a public one only names itself.
/// Failed proofs count towards a lock on the client from the caller's network, checked
/// before the secret is compared. Each refusal is a `client_auth.failed` event.
async fn client<'a>(
    app: &App,
    config: &'a OAuthConfig,
    req: &HttpRequest,
    params: &Params,
) -> Result<&'a OAuthClient, ApiError> {
    // Without the issuer's secrets a confidential client would look public: refuse rather than
    // let it in without its secret.
    if !config.has_secrets() {
        return Err(ApiError::Internal(
            "client authentication needs the issuer's secrets (AUTHFN_JWT_KEYS, client secrets)"
                .into(),
        ));
    }
    let basic = basic_credentials(req).inspect_err(|_| {
        client_auth_failed(app, req, None, "malformed_credentials");
    })?;
    let (id, secret) = match basic {
        Some((id, secret)) => (id, Some(secret)),
        None => {
            let id = params.get("client_id").ok_or_else(|| {
                ApiError::oauth(OAuthErrorCode::InvalidRequest, "client_id is required")
            })?;
            (
                ClientId::new(id),
                params
                    .get("client_secret")
                    .map(|s| ClientSecret::new(s.to_owned())),
            )
        }
    };
    let Some(client) = config.clients.get(&id) else {
        client_auth_failed(app, req, None, "unknown_client");
        return Err(invalid_client());
    };
    let Some(expected) = &client.secret_hash else {
        // A public client names itself; a secret from one is a confused client.
        if secret.is_some() {
            client_auth_failed(app, req, Some(&client.id), "unexpected_secret");
            return Err(invalid_client());
        }
        return Ok(client);
    };
    let network = client_ip(req, &app.config);
    app.check_client_lockout(&client.id, &network)
        .await
        .inspect_err(|e| {
            if matches!(e, ApiError::ClientLocked { .. }) {
                client_auth_failed(app, req, Some(&client.id), "client_locked");
            }
        })?;
    let proven = secret.is_some_and(|presented| {
        let presented = TokenHash::of(presented.secret().as_bytes());
        constant_time_eq(presented.to_hex().as_bytes(), expected.to_hex().as_bytes())
    });
    if proven {
        Ok(client)
    } else {
        client_auth_failed(app, req, Some(&client.id), "invalid_secret");
        Err(app
            .record_client_failure(&client.id, &network, invalid_client())
            .await?)
    }
}

/// The live, still pending device authorization a user typed the code of.
async fn pending_device(
    app: &App,
    code: &UserCode,
) -> Result<Option<DeviceAuthorization>, ApiError> {
    for hash in user_code::hashes(&app.config.session_keys, code) {
        if let Some(device) = app
            .store
            .device_authorization_by_user_code(&hash, app.now())
            .await?
        {
            return Ok((device.status == DeviceStatus::Pending).then_some(device));
        }
    }
    Ok(None)
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id):urlencode(secret))`. `None` without a
/// `Basic` header; a malformed one is a failed client authentication, never ignored (else a
/// broken client would silently fall back to the `client_id` parameter).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(ClientId, ClientSecret)>, ApiError> {
    use base64ct::{Base64, Encoding};
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| invalid_client())?;
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = Base64::decode_vec(encoded.trim()).map_err(|_| invalid_client())?;
    let text = std::str::from_utf8(&decoded).map_err(|_| invalid_client())?;
    let (id, secret) = text.split_once(':').ok_or_else(invalid_client)?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    match (decode(id), decode(secret)) {
        (Some(id), Some(secret)) if !id.is_empty() => {
            Ok(Some((ClientId::new(id), ClientSecret::new(secret))))
        }
        _ => Err(invalid_client()),
    }
}

/// The requested scope, every part of it allowed; `openid` when none is asked for.
fn requested_scope(config: &OAuthConfig, params: &Params) -> Result<Scope, ApiError> {
    let requested = params.get("scope").unwrap_or("openid");
    if let Some(scope) = requested
        .split_whitespace()
        .find(|scope| !config.scopes.contains(scope))
    {
        return Err(ApiError::oauth(
            OAuthErrorCode::InvalidScope,
            format!("scope {scope:?} is not offered"),
        ));
    }
    let scope = Scope::of(requested.split_whitespace());
    if scope.is_empty() {
        return Err(ApiError::oauth(
            OAuthErrorCode::InvalidScope,
            "scope is empty",
        ));
    }
    Ok(scope)
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// Where a new token pair belongs: a new family (device grant) or an existing one (refresh).
struct Family {
    id: String,
    expires_at: UnixTime,
}

/// Signs an access token (and an ID token for `openid`) and mints the refresh token that goes
/// with it when `offline_access` was granted. Returns the response and the refresh token's
/// record, which the caller stores (plainly, or as the new half of a rotation).
async fn issue(
    config: &OAuthConfig,
    now: UnixTime,
    user: &UserRecord,
    client_id: &ClientId,
    scope: &Scope,
    family: Option<Family>,
) -> Result<(TokenResponse, Option<RefreshTokenRecord>), ApiError> {
    let user_id = &user.id;
    let claims = AccessTokenClaims::new(
        &config.issuer,
        &config.audience,
        user_id.as_str(),
        client_id.as_str(),
        scope.as_str(),
        now,
        config.access_token_lifetime,
    )?;
    let access_token = access_token::sign(&config.keys, &claims)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let id_token = if scope.contains("openid") {
        let (email, verified) = userinfo::email_claims(user);
        let email_granted = scope.contains("email");
        let claims = IdTokenClaims {
            iss: &config.issuer,
            sub: user_id.as_str(),
            aud: client_id.as_str(),
            exp: claims.exp,
            iat: now.0,
            email: email_granted.then_some(email.as_str()),
            email_verified: email_granted.then_some(verified),
        };
        Some(
            access_token::sign_id_token(&config.keys, &claims)
                .await
                .map_err(|e| ApiError::Internal(e.into()))?,
        )
    } else {
        None
    };
    let (refresh_token, record) = if scope.contains("offline_access") {
        let family = match family {
            Some(f) => f,
            None => Family {
                id: b64url(&random_array::<16>()?),
                expires_at: now.plus(config.refresh_family_lifetime),
            },
        };
        let token = RefreshToken::generate()?;
        let record = RefreshTokenRecord {
            token_hash: token.hash(),
            family_id: family.id,
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            scope: scope.clone(),
            user_epoch: user.session_epoch,
            active: true,
            expires_at: now
                .plus(config.refresh_token_lifetime)
                .min(family.expires_at),
            family_expires_at: family.expires_at,
        };
        (Some(token.secret().to_owned()), Some(record))
    } else {
        (None, None)
    };
    let response = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: config.access_token_lifetime.as_secs(),
        scope: scope.as_str().to_owned(),
        refresh_token,
        id_token,
    };
    Ok((response, record))
}
