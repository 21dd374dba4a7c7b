//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery, RFC 8414): where the
//! issuer's endpoints are and what they support.

use http::StatusCode;
use http::header::CACHE_CONTROL;

use super::{issuer, token::DEVICE_CODE_GRANT};
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};
use crate::{App, Endpoint};

/// Serves the issuer's discovery document.
pub async fn handle(app: &App, _req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let c = issuer(app)?;
    let auth_methods = ["none", "client_secret_basic", "client_secret_post"];
    let document = serde_json::json!({
        "issuer": c.issuer,
        "device_authorization_endpoint": c.url(Endpoint::DeviceAuthorize.path()),
        "token_endpoint": c.url(Endpoint::Token.path()),
        "jwks_uri": c.url(Endpoint::Jwks.path()),
        "introspection_endpoint": c.url(Endpoint::Introspect.path()),
        "revocation_endpoint": c.url(Endpoint::Revoke.path()),
        "userinfo_endpoint": c.url(Endpoint::Userinfo.path()),
        "grant_types_supported": [DEVICE_CODE_GRANT, "refresh_token"],
        // Required and non-empty (OIDC Discovery §3). There is no authorization endpoint
        // (browsers sign in with the session endpoints; devices with the device grant), so
        // no client is ever sent one; `code` is what a strict client expects to see here.
        "response_types_supported": ["code"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "email_verified"],
        "subject_types_supported": ["public"],
        // RS256 only when an RSA key is configured: never a promise the tokens do not keep.
        "id_token_signing_alg_values_supported": c.keys.id_token_algs(),
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": c.scopes.iter().collect::<Vec<_>>(),
    });
    let mut res = response::json(StatusCode::OK, &document);
    res.headers_mut()
        .insert(CACHE_CONTROL, super::jwks::cacheable());
    Ok(res)
}
