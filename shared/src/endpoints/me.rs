//! `GET /me`: an example protected route, written the way you would write one of your own
//! API's functions: one call to [`App::authenticate`], then your logic.

use http::StatusCode;

use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

pub async fn handle(app: &App, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = app.authenticate(req).await?;
    Ok(response::json(
        StatusCode::OK,
        &serde_json::json!({ "user_id": who.user.id, "email": who.user.email.as_str() }),
    ))
}
