//! `GET /me`: an example protected route, written the way you would write one of your own
//! API's functions: one call to authenticate the caller, then your logic. Browsers come with
//! the session cookie ([`App::authenticate`]); CLI and mobile clients with an access token
//! from the device flow ([`App::verify_access_token`]).

use http::StatusCode;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

/// Answers who is calling: the user (and email) for a session, the user, client and scope for
/// an access token.
pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    if crate::request::bearer_jwt(req).is_some() {
        let claims = app.verify_access_token(req).await?;
        return Ok(response::json(
            StatusCode::OK,
            &serde_json::json!({ "user_id": claims.sub, "client_id": claims.client_id, "scope": claims.scope }),
        ));
    }
    let who = app.authenticate(req).await?;
    Ok(response::json(
        StatusCode::OK,
        &serde_json::json!({ "user_id": who.user.id, "email": who.user.email.as_str() }),
    ))
}
