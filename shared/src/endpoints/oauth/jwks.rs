//! `GET /.well-known/jwks.json`: the public keys access and ID tokens are signed with
//! (current and previous), cacheable for a few minutes.

use http::header::CACHE_CONTROL;
use http::{HeaderValue, StatusCode};

use super::issuer;
use crate::App;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::{self, HttpResponse};

/// Short enough that a new key is seen well within an access token's lifetime.
pub const CACHE_SECS: u32 = 300;

/// Serves the current and previous public signing keys, cacheable for [`CACHE_SECS`].
pub async fn handle(app: &App, _req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = issuer(app)?;
    let mut res = response::json(StatusCode::OK, &config.keys.jwks());
    res.headers_mut().insert(CACHE_CONTROL, cacheable());
    Ok(res)
}

pub(super) fn cacheable() -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={CACHE_SECS}")).expect("ASCII")
}
