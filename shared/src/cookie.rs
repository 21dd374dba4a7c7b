//! The session cookie: how it is set, cleared and found.

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;

use crate::config::CookiePolicy;
use crate::token::SignedToken;

/// `HttpOnly` keeps it from page scripts, `SameSite=Lax` from cross-site subrequests, and
/// `Path=/` with no `Domain` pins it to this one host (as `__Host-` requires).
pub fn session(policy: &CookiePolicy, value: &SignedToken, max_age_secs: u64) -> String {
    build(policy, value.expose(), max_age_secs)
}

/// The device cookie (see `device`): like the session cookie, HttpOnly, `SameSite=Lax` and
/// host-only, but it outlives sessions and sign-out, since it only vouches that this browser
/// once knew the account's password.
pub fn device(policy: &CookiePolicy, value: &crate::device::SignedDeviceToken, max_age_secs: u64) -> String {
    build_named(policy, policy.device_name(), value.expose(), max_age_secs, SameSite::Lax)
}

/// An expired, empty cookie with the same attributes, which makes the browser drop it.
pub fn clear(policy: &CookiePolicy) -> String {
    build(policy, "", 0)
}

/// The cookie that binds a federated sign-in to the browser that began it (see
/// `federation::attempt`). A `response_mode=form_post` callback is a cross-site POST from the
/// provider's page, which `SameSite=Lax` cookies do not ride along with; so over HTTPS it is
/// `SameSite=None`. It holds no session, only the binding for one 10-minute attempt, and the
/// callback also needs the matching `state`. Plain-HTTP development keeps `Lax` (browsers
/// refuse `None` without `Secure`), which works because localhost ports are one site.
pub fn federation_binding(policy: &CookiePolicy, value: &str, max_age_secs: u64) -> String {
    let same_site = if policy.secure { SameSite::None } else { SameSite::Lax };
    build_named(policy, policy.federation_name(), value, max_age_secs, same_site)
}

fn build(policy: &CookiePolicy, value: &str, max_age_secs: u64) -> String {
    build_named(policy, policy.name(), value, max_age_secs, SameSite::Lax)
}

fn build_named(policy: &CookiePolicy, name: &'static str, value: &str, max_age_secs: u64, same_site: SameSite) -> String {
    Cookie::build((name, value))
        .http_only(true)
        .secure(policy.secure)
        .same_site(same_site)
        .path("/")
        .max_age(cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX)))
        .build()
        .to_string()
}

/// Every value of the cookie named `name` across all `Cookie` headers.
pub fn find<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn finds_all_values_across_headers() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; s=x"));
        h.append(COOKIE, HeaderValue::from_static("s=y;b=2"));
        assert_eq!(find(&h, "s"), vec!["x", "y"]);
        assert!(find(&h, "c").is_empty());
    }

    #[test]
    fn clear_expires_the_cookie() {
        let c = clear(&CookiePolicy { secure: true });
        assert!(c.starts_with("__Host-authfn_session=;"), "{c}");
        assert!(c.contains("Max-Age=0"));
        assert!(c.contains("Secure"));
    }
}
