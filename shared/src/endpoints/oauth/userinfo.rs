//! `GET|POST /oidc/userinfo` (OpenID Connect Core §5.3): the claims about the signed-in user
//! that an access token's scopes allow, for clients that want them without decoding the ID
//! token. The token comes as `Authorization: Bearer` (RFC 6750 §2.1).

use http::StatusCode;

use super::issuer;
use crate::App;
use crate::error::ApiError;
use crate::oauth::access_token;
use crate::request::{HttpRequest, bearer_jwt};
use crate::response::{self, HttpResponse};
use crate::store::UserRecord;
use crate::token::UserId;

/// Answers with the claims about the user that the access token's scopes allow.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    let token = match bearer_jwt(req) {
        Some(token) => token,
        // RFC 6750 §3.1: a request without a token gets a bare challenge; one whose token is
        // not even a JWT is an invalid token.
        None if req.headers().contains_key(http::header::AUTHORIZATION) => {
            return Err(ApiError::InvalidAccessToken("not a JWT"));
        }
        None => return Err(ApiError::Unauthenticated),
    };
    let claims = access_token::verify(
        token,
        &config.keys,
        &config.issuer,
        &config.audience,
        app.now(),
    )
    .await
    .map_err(|e| ApiError::InvalidAccessToken(e.0))?;
    if !claims.scopes().any(|s| s == "openid") {
        return Err(ApiError::InsufficientScope { scope: "openid" });
    }
    let user = app
        .store
        .user_by_id(&UserId::from_stored(claims.sub.clone()))
        .await?
        .ok_or(ApiError::InvalidAccessToken("the user no longer exists"))?;
    let mut body = serde_json::json!({ "sub": claims.sub });
    if claims.scopes().any(|s| s == "email") {
        let (email, verified) = email_claims(&user);
        body["email"] = email.into();
        body["email_verified"] = verified.into();
    }
    // `profile`: authfn keeps no name, picture or locale, and OIDC Core §5.3.2 says claims
    // without a value are left out, so it adds nothing.
    Ok(response::json(StatusCode::OK, &body))
}

/// `email` and `email_verified` (OIDC Core §5.1), as the ID token and userinfo both state them.
/// The address counts as verified once proven: by a mailed link or code, or by the identity
/// provider that created the account.
pub(crate) fn email_claims(user: &UserRecord) -> (String, bool) {
    (user.email.as_str().to_owned(), user.email_verified)
}
