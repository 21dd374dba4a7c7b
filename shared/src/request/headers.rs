//! The request headers authfn reads, each a `HeaderName` built at compile time.
//!
//! Naming a header at run time (`HeaderName::from_bytes`, or `headers().get("…")` with a
//! string) links `http`'s parser for header names with its table of standard names: 12 KB
//! of the Worker's wasm; 6 KiB of its gzip went with it (2026-12-02). So the Worker builds each request
//! from the headers listed here alone (`workers/mod.rs`), and the header that
//! `AUTHFN_CLIENT_IP_HEADER` names is one of a known set rather than any name at all.
//! A header that authfn starts reading goes into [`READ`], or the Worker never passes it on.

use http::HeaderName;
use http::header::{
    ACCEPT, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION,
    CONTENT_TYPE, COOKIE, ORIGIN, USER_AGENT,
};

/// Fetch metadata (W3C): where the page that sent the request sits relative to authfn.
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// Fetch metadata: how the request was made (navigation, `fetch`, …).
pub const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// Every request header an endpoint reads, but the configured client-IP header.
pub static READ: [HeaderName; 10] = [
    ACCEPT,
    ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD,
    AUTHORIZATION,
    CONTENT_TYPE,
    COOKIE,
    ORIGIN,
    SEC_FETCH_MODE,
    SEC_FETCH_SITE,
    USER_AGENT,
];

/// The headers in which proxies and CDNs hand on the client's address, for
/// `AUTHFN_CLIENT_IP_HEADER`. Each holds one address or a comma-separated list of them;
/// RFC 7239's `Forwarded`, whose entries are `for=…` pairs, is not one of them.
static CLIENT_IP: [HeaderName; 9] = [
    // Most proxies and load balancers: AWS's ALB, CloudFront and API Gateway, nginx, Envoy.
    HeaderName::from_static("x-forwarded-for"),
    // nginx's realip module, Traefik.
    HeaderName::from_static("x-real-ip"),
    // Cloudflare, and Cloudflare's Enterprise and Akamai's single-address header.
    HeaderName::from_static("cf-connecting-ip"),
    HeaderName::from_static("true-client-ip"),
    // Fastly.
    HeaderName::from_static("fastly-client-ip"),
    // Azure Front Door.
    HeaderName::from_static("x-azure-clientip"),
    // Envoy's trusted external address.
    HeaderName::from_static("x-envoy-external-address"),
    // Older load balancers' own names.
    HeaderName::from_static("x-client-ip"),
    HeaderName::from_static("x-cluster-client-ip"),
];

/// The client-IP header named `name`, in any letter case; `None` for a name outside the
/// known set.
pub fn client_ip_header(name: &str) -> Option<HeaderName> {
    CLIENT_IP
        .iter()
        .find(|known| known.as_str().eq_ignore_ascii_case(name.trim()))
        .cloned()
}

/// The names `AUTHFN_CLIENT_IP_HEADER` accepts, for its error message.
pub fn client_ip_header_names() -> String {
    let names: Vec<&str> = CLIENT_IP.iter().map(HeaderName::as_str).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_ip_header_is_found_in_any_case_and_an_unknown_one_is_not() {
        assert_eq!(
            client_ip_header("X-Forwarded-For"),
            Some(CLIENT_IP[0].clone())
        );
        assert_eq!(
            client_ip_header("CF-Connecting-IP").map(|h| h.as_str().to_owned()),
            Some("cf-connecting-ip".to_owned())
        );
        assert_eq!(client_ip_header("x-forwarded-fro"), None);
        assert_eq!(client_ip_header("forwarded"), None);
        assert_eq!(client_ip_header(""), None);
    }
}
