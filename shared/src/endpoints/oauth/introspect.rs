//! `POST /oidc/introspect` (RFC 7662): whether a token is active, for resource servers. Only
//! confidential clients may ask.

use http::StatusCode;
use serde_json::json;

use super::{client, invalid_client, issuer};
use crate::App;
use crate::error::ApiError;
use crate::oauth::RefreshToken;
use crate::oauth::access_token;
use crate::oauth::error::OAuthErrorCode;
use crate::request::{HttpRequest, Params, form_body};
use crate::response::{self, HttpResponse};

/// Tells a confidential client whether a token is active, with its claims when it is.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    app.rate_limit(req, "introspect").await?;
    let params = Params::parse(form_body(req, &app.config)?)?;
    let caller = client(app, config, req, &params).await?;
    if caller.secret_hash.is_none() {
        return Err(invalid_client());
    }
    let token = params
        .get("token")
        .ok_or_else(|| ApiError::oauth(OAuthErrorCode::InvalidRequest, "token is required"))?;
    let now = app.now();

    if let Ok(claims) =
        access_token::verify(token, &config.keys, &config.issuer, &config.audience, now).await
    {
        let body = json!({
            "active": true, "token_type": "Bearer", "scope": claims.scope, "client_id": claims.client_id,
            "sub": claims.sub, "exp": claims.exp, "iat": claims.iat, "iss": claims.iss, "aud": claims.aud, "jti": claims.jti,
        });
        return Ok(response::json(StatusCode::OK, &body));
    }
    if let Some(record) = app
        .store
        .refresh_token(&RefreshToken::presented(token).hash(), now)
        .await?
    {
        // Alive: not rotated, family not revoked, and no "sign out everywhere" since it began.
        let live = record.active
            && !app
                .store
                .is_token_family_revoked(&record.family_id, now)
                .await?
            && app
                .store
                .user_by_id(&record.user_id)
                .await?
                .is_some_and(|u| u.session_epoch == record.user_epoch);
        if live {
            let body = json!({
                "active": true, "token_type": "refresh_token", "scope": record.scope, "client_id": record.client_id,
                "sub": record.user_id.as_str(), "exp": record.expires_at.0, "iss": config.issuer,
            });
            return Ok(response::json(StatusCode::OK, &body));
        }
    }
    Ok(response::json(StatusCode::OK, &json!({ "active": false })))
}
