//! CORS for an SPA on another origin of the same site: exact trusted origins only, always with
//! credentials, never `*`.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderValue, Method};

use crate::config::Config;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::response::HttpResponse;

/// The only non-safelisted request header an SPA needs to send.
const ALLOWED_HEADERS: &[&str] = &["content-type"];

fn trusted_origin<'a>(req: &'a HttpRequest, config: &Config) -> Option<&'a HeaderValue> {
    req.headers().get(ORIGIN).filter(|o| {
        o.to_str()
            .is_ok_and(|o| config.is_trusted_origin(&o.to_ascii_lowercase()))
    })
}

/// Answers an `OPTIONS` preflight for an endpoint that accepts `method`.
pub fn preflight(req: &HttpRequest, config: &Config, method: &Method) -> HttpResponse {
    let requested_method = req
        .headers()
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok());
    let requested_headers_ok = req
        .headers()
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .map(|h| h.to_str().unwrap_or("\u{0}"))
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .all(|h| ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(h)));
    let origin = trusted_origin(req, config);
    let allowed =
        origin.is_some() && requested_method == Some(method.as_str()) && requested_headers_ok;
    let mut res = if allowed {
        let mut res = crate::response::no_content();
        let h = res.headers_mut();
        h.insert(
            ACCESS_CONTROL_ALLOW_ORIGIN,
            origin.expect("checked above").clone(),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_str(method.as_str()).expect("method is a token"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        res
    } else {
        HttpResponse::from(ApiError::CorsRejected)
    };
    res.headers_mut().insert(
        VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    res
}

/// Lets a trusted origin read the response, with credentials.
pub fn decorate(req: &HttpRequest, config: &Config, res: &mut HttpResponse) {
    res.headers_mut()
        .append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = trusted_origin(req, config) {
        res.headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        res.headers_mut().insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        // So the SPA can say "try again in 40 s" after a 429, 423 or 503.
        res.headers_mut().insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
    }
}
