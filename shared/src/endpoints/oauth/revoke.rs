//! `POST /oidc/revoke` (RFC 7009): a client gives up a refresh token, which ends its whole
//! family. Access tokens are self-contained JWTs that expire within minutes; revoking one is
//! answered like any unknown token (200), as §2.2 allows.

use http::StatusCode;

use super::{client, issuer};
use crate::App;
use crate::error::ApiError;
use crate::events::{Event, EventType};
use crate::oauth::RefreshToken;
use crate::oauth::error::OAuthErrorCode;
use crate::request::{HttpRequest, Params, form_body};
use crate::response::HttpResponse;

/// Ends a refresh token's whole family; an unknown token is answered as if revoked.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    app.rate_limit(req, "revoke").await?;
    let params = Params::parse(form_body(req, &app.config)?)?;
    let caller = client(app, config, req, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| ApiError::oauth(OAuthErrorCode::InvalidRequest, "token is required"))?;
    if let Some(record) = app
        .store
        .refresh_token(&RefreshToken::presented(token).hash(), app.now())
        .await?
    {
        // A client may only revoke its own tokens; anyone else's is "unknown" to it.
        if record.client_id == caller.id {
            app.store
                .revoke_token_family(&record.family_id, record.family_expires_at)
                .await?;
            app.record(
                req,
                Event::new(EventType::TokenRevoked)
                    .user(&record.user_id)
                    .client(record.client_id.as_str()),
            );
        }
    }
    let mut res = crate::response::no_content();
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}
