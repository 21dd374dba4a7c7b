//! Cross-site request forgery defence for state-changing requests.
//!
//! A browser names the page that sent a request in `Origin` (and, in modern browsers,
//! classifies it in `Sec-Fetch-Site`); a cross-site page cannot forge either. Non-browser
//! clients send neither and no cookie, and have no ambient credential to abuse.

use http::Method;

use crate::config::Config;
use crate::error::ApiError;
use crate::request::HttpRequest;
use crate::request::headers::{SEC_FETCH_MODE, SEC_FETCH_SITE};

/// Refuses a state-changing request that a browser says came from a page outside the
/// trusted origins; safe methods and non-browser clients pass.
pub fn check(req: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = req.headers().get(http::header::ORIGIN) {
        // `Origin: null` (sandboxed frames, some redirects) is never trusted.
        return match origin.to_str() {
            Ok(o)
                if config.is_trusted_origin(&o.to_ascii_lowercase())
                    || config.is_own_origin(&o.to_ascii_lowercase()) =>
            {
                Ok(())
            }
            _ => Err(ApiError::CsrfRejected),
        };
    }
    if let Some(site) = header(SEC_FETCH_SITE) {
        // Only the same origin: `same-site` includes every sibling subdomain, which
        // `AUTHFN_TRUSTED_ORIGINS` does not vouch for.
        return match site {
            "same-origin" => Ok(()),
            _ => Err(ApiError::CsrfRejected),
        };
    }
    // No browser signal at all. With a cookie this is a browser too old to say where the
    // request came from, so refuse; without one it is a non-browser client.
    if req.headers().contains_key(http::header::COOKIE) {
        return Err(ApiError::CsrfRejected);
    }
    Ok(())
}

/// True when the request shows any sign of coming from a browser.
pub fn is_browser(req: &HttpRequest) -> bool {
    let h = req.headers();
    h.contains_key(http::header::ORIGIN)
        || h.contains_key(SEC_FETCH_SITE)
        || h.contains_key(SEC_FETCH_MODE)
        || h.contains_key(http::header::COOKIE)
}
