//! Building responses. Bodies are UTF-8 text (JSON or the demo HTML).

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};

use crate::error::ApiError;

/// What every endpoint answers: a response with a UTF-8 body.
pub type HttpResponse = Response<String>;

/// The challenge of a 401 for a session: non-browser clients send the session token as a
/// Bearer; browsers ignore the header.
pub const SESSION_CHALLENGE: &str = "Bearer realm=\"authfn\"";

/// A JSON response with this status.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    // Serialising our own plain structs cannot fail.
    json_text(
        status,
        serde_json::to_string(body).unwrap_or_else(|_| "{}".into()),
    )
}

/// The part of [`json`] that is the same for every body type: once, not in each of its
/// instantiations (the Worker's size is counted).
#[inline(never)]
fn json_text(status: StatusCode, text: String) -> HttpResponse {
    let mut res = Response::new(text);
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// An empty 204.
pub fn no_content() -> HttpResponse {
    let mut res = Response::new(String::new());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

impl From<ApiError> for HttpResponse {
    fn from(e: ApiError) -> Self {
        let oauth = matches!(e, ApiError::OAuth { .. } | ApiError::ClientLocked { .. });
        error(e, oauth)
    }
}

/// What an error answer was, carried in its extensions for the runtime adapter's log line
/// ([`crate::access_log`]): the client gets the code, only the log gets the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The `error` code of the body.
    pub code: &'static str,
    /// The cause chain of a failure on our side or upstream ([`ApiError::cause_chain`]). It
    /// names what failed (an operation, a URL, an HTTP status), never a token or a secret.
    pub cause: Option<String>,
}

/// The JSON answer for an error: `{"error", "message"}`, plus RFC 6749's `error_description`
/// when `oauth_form` (every error of an OAuth endpoint, its transport errors included, so an
/// OAuth client library can show what went wrong).
pub fn error(e: ApiError, oauth_form: bool) -> HttpResponse {
    let error_description = oauth_form.then(|| e.message());
    let mut res = json(
        e.status(),
        &ErrorBody {
            error: e.code(),
            message: e.message(),
            error_description,
        },
    );
    res.extensions_mut().insert(ErrorDetail {
        code: e.code(),
        cause: e.cause_chain(),
    });
    if let Some(secs) = e.retry_after() {
        res.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(challenge) = e.www_authenticate() {
        // Built from our own constant strings: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            res.headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, value);
        }
    }
    if let ApiError::MethodNotAllowed { allow } = e {
        res.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static(allow));
    }
    res
}

/// Headers every response carries, whatever answered: no MIME sniffing (a JSON error echoing
/// input can never be read as HTML), HSTS when configured, and a challenge on every 401
/// (RFC 9110 §15.5.2), also on the ones an endpoint renders itself (the device page).
pub fn harden(res: &mut HttpResponse, hsts: Option<std::time::Duration>) {
    let unauthorized = res.status() == StatusCode::UNAUTHORIZED;
    let h = res.headers_mut();
    if unauthorized && !h.contains_key(http::header::WWW_AUTHENTICATE) {
        h.insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(SESSION_CHALLENGE),
        );
    }
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(max_age) = hsts {
        let value =
            HeaderValue::from_str(&format!("max-age={}", max_age.as_secs())).expect("ASCII digits");
        h.insert(http::header::STRICT_TRANSPORT_SECURITY, value);
    }
}

/// Auth responses are per-user and must never be cached by a browser or a CDN.
/// `no-store` unless the endpoint chose its own caching (only the public JWKS and discovery
/// documents do): answers carry sessions, tokens and personal data.
pub fn forbid_caching(res: &mut HttpResponse) {
    if !res.headers().contains_key(CACHE_CONTROL) {
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
