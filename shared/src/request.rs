//! Reading requests: JSON bodies, the client's IP, and the presented session credential.

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::ApiError;

pub mod headers;
mod json;
mod json_path;

/// The request every endpoint takes, whatever the runtime.
pub type HttpRequest = http::Request<Bytes>;

/// The client's IP as the runtime saw it (API Gateway's `sourceIp`, the socket peer address).
/// Adapters put it in the request's extensions; a client cannot set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

/// The client's address: with `AUTHFN_CLIENT_IP_HEADER`, the entry `AUTHFN_TRUSTED_PROXY_HOPS`
/// from the right of that comma-separated list (entries to its left are whatever the client
/// claimed; each trusted proxy appends one); otherwise, or when the list is shorter than the
/// chain of trusted proxies (the request did not come through them), the runtime's own view.
/// `None` when the address cannot be read.
pub fn client_addr(req: &HttpRequest, config: &Config) -> Option<IpAddr> {
    if let Some(header) = &config.client_ip_header {
        let entries: Vec<&str> = req
            .headers()
            .get_all(header)
            .iter()
            // Entry by entry: a non-ASCII byte in the part the client wrote must not discard
            // the entries the proxies appended after it.
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(|entry| std::str::from_utf8(entry).unwrap_or(""))
            .collect();
        if let Some(index) = entries.len().checked_sub(config.trusted_proxy_hops) {
            return crate::network::parse(entries[index]);
        }
    }
    crate::network::parse(&req.extensions().get::<ClientIp>()?.0)
}

/// The key a client's requests are rate-limited under: its IPv4 address, its IPv6 /64, or
/// `unknown` (one shared budget) when its address cannot be read.
pub fn client_ip(req: &HttpRequest, config: &Config) -> String {
    crate::network::rate_limit_bucket(client_addr(req, config))
}

/// The body, if it is within the size limit (else 413) and declared as `media_type` (else 415).
fn checked_body<'a>(
    req: &'a HttpRequest,
    config: &Config,
    media_type: &'static str,
) -> Result<&'a [u8], ApiError> {
    if req.body().len() > config.max_body_bytes {
        return Err(ApiError::PayloadTooLarge {
            limit: config.max_body_bytes,
        });
    }
    let declared = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(media_type));
    if !declared {
        return Err(ApiError::UnsupportedMediaType {
            expected: media_type,
        });
    }
    Ok(req.body())
}

/// Parses a JSON body, with 413 / 415 / 400 for the ways a client can get it wrong (see
/// [`json::parse`] for the 400s).
pub fn json_body<T: DeserializeOwned>(req: &HttpRequest, config: &Config) -> Result<T, ApiError> {
    json::parse(checked_body(req, config, "application/json")?)
}

/// A session credential as presented, before its signature is checked.
pub enum Presented<'a> {
    /// An `Authorization: Bearer` value (non-browser clients).
    Bearer(&'a str),
    /// Every value of the session cookie, in header order.
    Cookies(Vec<&'a str>),
    /// Neither a Bearer token nor a session cookie.
    None,
}

/// The `Authorization: Bearer` value when it has a JWT's shape (three base64url parts): an
/// access token, as opposed to an opaque session token.
pub fn bearer_jwt(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let is_jwt = token.split('.').count() == 3 && token.starts_with("ey");
    (scheme.eq_ignore_ascii_case("bearer") && is_jwt).then_some(token)
}

/// The session credential of a request: a Bearer token (non-browser clients) or the session
/// cookie. Every cookie with the session's name is returned, so a cookie tossed in by another
/// site cannot hide the real one.
pub fn presented_credential<'a>(req: &'a HttpRequest, cookie_name: &str) -> Presented<'a> {
    if let Some(auth) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, token)) = auth.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Presented::Bearer(token.trim());
    }
    let values = crate::cookie::find(req.headers(), cookie_name);
    if values.is_empty() {
        Presented::None
    } else {
        Presented::Cookies(values)
    }
}

/// An `application/x-www-form-urlencoded` body (OAuth requests, `form_post` callbacks).
pub fn form_body<'a>(req: &'a HttpRequest, config: &Config) -> Result<&'a str, ApiError> {
    checked_body(req, config, "application/x-www-form-urlencoded")?;
    std::str::from_utf8(req.body()).map_err(|_| ApiError::invalid_field("body", "is not UTF-8"))
}

/// Query or form parameters, each at most once: a repeated `state` or `code` is an attack or a
/// bug, never something to pick one of.
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a query string or form body, refusing any parameter given twice.
    pub fn parse(encoded: &str) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(encoded.as_bytes()) {
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(ApiError::InvalidField {
                    field: "query",
                    message: format!("parameter {k:?} is repeated"),
                });
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(pairs))
    }

    /// The decoded value of parameter `name`, if it was sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
