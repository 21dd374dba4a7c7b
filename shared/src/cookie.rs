//! The cookies authfn sets (session, device, federation binding and hand-off): how each is set, cleared and found.

use std::time::Duration;

use http::HeaderMap;
use http::header::COOKIE;

use crate::config::CookiePolicy;
use crate::federation::config::ResponseMode;
use crate::token::SignedToken;

/// `HttpOnly` keeps it from page scripts, `SameSite=Lax` from cross-site subrequests, and
/// `Path=/` with no `Domain` pins it to this one host (as `__Host-` requires).
pub fn session(policy: &CookiePolicy, value: &SignedToken, max_age: Duration) -> String {
    build(policy, value.secret(), max_age)
}

/// The device cookie (see `device`): like the session cookie, HttpOnly, `SameSite=Lax` and
/// host-only, but it outlives sessions and sign-out, since it only vouches that this browser
/// once knew the account's password.
pub fn device(
    policy: &CookiePolicy,
    value: &crate::device::SignedDeviceToken,
    max_age: Duration,
) -> String {
    build_named(
        policy.device_name(),
        value.secret(),
        max_age,
        SameSite::Lax,
        policy.secure,
    )
}

/// An expired, empty cookie with the same attributes, which makes the browser drop it.
pub fn clear(policy: &CookiePolicy) -> String {
    build(policy, "", Duration::ZERO)
}

/// The pending-sign-in cookie: HttpOnly and host-only like the session's, and
/// `SameSite=Strict`, since only the SPA's own same-site requests ever need it.
pub fn pending_sign_in(policy: &CookiePolicy, value: &SignedToken, max_age: Duration) -> String {
    build_named(
        policy.pending_name(),
        value.secret(),
        max_age,
        SameSite::Strict,
        policy.secure,
    )
}

/// Drops the pending-sign-in cookie (once the sign-in is finished or dead).
pub fn clear_pending_sign_in(policy: &CookiePolicy) -> String {
    build_named(
        policy.pending_name(),
        "",
        Duration::ZERO,
        SameSite::Strict,
        policy.secure,
    )
}

/// The cookie that binds a federated sign-in to the browser that began it (see
/// `federation::attempt`). It holds no session, only the binding for one 10-minute attempt,
/// and the callback also needs the matching `state`.
///
/// A `response_mode=form_post` callback is a cross-site POST from the provider's page, which
/// `SameSite=Lax` cookies do not ride along with; for those providers only, it is
/// `SameSite=None`, which browsers accept only with `Secure`. So it is `Secure` then even in
/// plain-HTTP development: browsers treat loopback hosts (the only ones authfn's configuration
/// allows plain HTTP for) as secure contexts and keep `Secure` cookies from them. Without that, a
/// provider on `127.0.0.1` posting to authfn on `localhost` (two sites) arrives without it.
/// Query-mode callbacks are top-level GET navigations, which carry `Lax` cookies.
pub fn federation_binding(
    policy: &CookiePolicy,
    value: &str,
    max_age: Duration,
    mode: ResponseMode,
) -> String {
    let (same_site, secure) = match mode {
        ResponseMode::FormPost => (SameSite::None, true),
        ResponseMode::Query => (SameSite::Lax, policy.secure),
    };
    build_named(policy.federation_name(), value, max_age, same_site, secure)
}

/// The short-lived cookie that carries a `form_post` sign-in's new session to the same-site
/// step that installs it (see `endpoints::federation::finish`). `Lax`: a cross-site page can
/// make a browser navigate to that step, but never hand it this cookie.
pub fn federation_handoff(policy: &CookiePolicy, value: &str, max_age: Duration) -> String {
    build_named(
        policy.federation_handoff_name(),
        value,
        max_age,
        SameSite::Lax,
        policy.secure,
    )
}

fn build(policy: &CookiePolicy, value: &str, max_age: Duration) -> String {
    build_named(policy.name(), value, max_age, SameSite::Lax, policy.secure)
}

/// `Set-Cookie`'s `SameSite` attribute.
#[derive(Clone, Copy)]
enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A `Set-Cookie` value (RFC 6265 §4.1), attributes in the order the `cookie` crate writes them.
/// Written here, not with that crate: its `Display` links `time`'s date formatting for an
/// `Expires` that authfn never sets (9 KB of the Worker, whose size is counted), and every part
/// of these cookies is authfn's own: a fixed name, and a token's base64url or nothing.
fn build_named(
    name: &'static str,
    value: &str,
    max_age: Duration,
    same_site: SameSite,
    secure: bool,
) -> String {
    debug_assert!(
        value.bytes().all(is_cookie_octet),
        "a cookie's value is a token, never text that could end it"
    );
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; HttpOnly; SameSite={}{secure}; Path=/; Max-Age={}",
        same_site.as_str(),
        max_age.as_secs()
    )
}

/// RFC 6265 §4.1.1's `cookie-octet`: printable ASCII but `"`, `,`, `;` and `\\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
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
    fn the_binding_cookie_is_cross_site_only_for_form_post() {
        for secure in [true, false] {
            let policy = CookiePolicy { secure };
            let query =
                federation_binding(&policy, "b", Duration::from_secs(600), ResponseMode::Query);
            assert!(
                query.contains("SameSite=Lax") && query.contains("Secure") == secure,
                "{query}"
            );
            let post = federation_binding(
                &policy,
                "b",
                Duration::from_secs(600),
                ResponseMode::FormPost,
            );
            assert!(
                post.contains("SameSite=None") && post.contains("Secure"),
                "{post}"
            );
        }
    }

    #[test]
    fn clear_expires_the_cookie() {
        let c = clear(&CookiePolicy { secure: true });
        assert!(c.starts_with("__Host-authfn_session=;"), "{c}");
        assert!(c.contains("Max-Age=0"));
        assert!(c.contains("Secure"));
    }

    #[test]
    fn a_session_cookie_has_every_attribute_once() {
        let keys = crate::crypto::KeyRing::new(crate::crypto::HmacKey::generate().unwrap(), vec![]);
        let token = crate::token::SessionToken::generate().unwrap();
        let value = token.sign(&crate::token::UserId::from_stored("u1".into()), &keys);
        let policy = CookiePolicy { secure: true };
        let c = session(&policy, &value, Duration::from_secs(3600));
        assert_eq!(
            c,
            format!(
                "__Host-authfn_session={}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600",
                value.secret()
            )
        );
        let dev = pending_sign_in(
            &CookiePolicy { secure: false },
            &value,
            Duration::from_secs(300),
        );
        assert!(
            dev.ends_with("; HttpOnly; SameSite=Strict; Path=/; Max-Age=300"),
            "{dev}"
        );
    }

    #[test]
    fn cookie_octets_are_rfc_6265s() {
        let allowed: String = (0u8..=0x7F)
            .filter(|&b| is_cookie_octet(b))
            .map(char::from)
            .collect();
        assert_eq!(
            allowed,
            "!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
        );
    }
}
