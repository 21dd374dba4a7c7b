//! A response read in full, with the assertions the suite makes over and over. Failures show
//! the status and body, which is what you need to see when a deployment misbehaves.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// What the deployment answered, kept whole so any assertion can show it.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// Every response header, repeated ones included.
    pub headers: HeaderMap,
    /// The raw body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// Whether this is `cargo lambda watch`'s own 500 problem document, which it answers when it
    /// did not get the request to a function (see `Api::send`); never an answer of authfn's.
    pub fn is_emulator_failure(&self) -> bool {
        self.status == 500
            && serde_json::from_slice::<serde_json::Value>(&self.body).is_ok_and(|v| {
                v.get("error").is_none() && v["type"] == "https://httpstatuses.com/500"
            })
    }

    /// The body as text (lossily), for messages and HTML pages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of a response header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is ASCII"))
    }

    /// Every `Set-Cookie` line, in order.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("Set-Cookie is ASCII"))
            .collect()
    }

    /// The body parsed as JSON; a body that is not JSON fails the test, showing it.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    /// Asserts an error answer: the status, and a JSON body with the `error` code and a
    /// non-empty `message`, which every error must have.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect_status(status);
        let body = self.json();
        assert_eq!(body["error"], code, "unexpected error code: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without a message: {body}"
        );
        self
    }

    /// The one session cookie this response sets.
    #[track_caller]
    pub fn session_cookie(&self) -> SessionCookie {
        self.one_cookie("authfn_session")
    }

    /// The one device cookie this response sets (issued with every session, see README).
    #[track_caller]
    pub fn device_cookie(&self) -> SessionCookie {
        self.one_cookie("authfn_device")
    }

    /// The one pending-sign-in cookie this response sets (a sign-in waiting for its second
    /// factor).
    #[track_caller]
    pub fn pending_cookie(&self) -> SessionCookie {
        self.one_cookie("authfn_mfa")
    }

    /// The one cookie named `name` (or `__Host-<name>`) that this response sets.
    #[track_caller]
    fn one_cookie(&self, name: &str) -> SessionCookie {
        let all = self.set_cookies();
        let named: Vec<SessionCookie> = all
            .iter()
            .map(|c| SessionCookie::parse(c))
            .filter(|c| c.name.strip_prefix("__Host-").unwrap_or(&c.name) == name)
            .collect();
        assert_eq!(
            named.len(),
            1,
            "expected exactly one {name} cookie, got {all:?}"
        );
        named.into_iter().next().expect("one cookie")
    }
}

/// A cookie as the server set it: name, value and the attributes, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    /// The cookie's name, `__Host-` prefix included when the server sent one.
    pub name: String,
    /// The value, exactly as sent.
    pub value: String,
    /// Everything after the first `;`, one entry per attribute, trimmed.
    pub attributes: Vec<String>,
}

impl SessionCookie {
    /// Reads one `Set-Cookie` header value; a malformed one fails the test.
    pub fn parse(set_cookie: &str) -> SessionCookie {
        let mut parts = set_cookie.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .unwrap_or_else(|| panic!("malformed Set-Cookie: {set_cookie}"));
        SessionCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            attributes: parts.filter(|a| !a.is_empty()).map(str::to_owned).collect(),
        }
    }

    /// The `Cookie` request header a browser would send back.
    pub fn header(&self) -> String {
        format!("{}={}", self.name, self.value)
    }

    /// True when the cookie carries `attribute` (case-insensitively, as browsers read it).
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }

    /// The value of an attribute like `Max-Age`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .filter_map(|a| a.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// The same cookie with one character of its value changed, as a forger would try.
    pub fn tampered(&self) -> SessionCookie {
        let mut chars: Vec<char> = self.value.chars().collect();
        // The middle of the value, skipping separators, lands inside the signed token.
        let mut i = chars.len() / 2;
        while chars[i] == '.' {
            i += 1;
        }
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        SessionCookie {
            value: chars.into_iter().collect(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_set_cookie_header() {
        let c = SessionCookie::parse("s=v1.a.b; HttpOnly; SameSite=Lax; Path=/; Max-Age=60");
        assert_eq!((c.name.as_str(), c.value.as_str()), ("s", "v1.a.b"));
        assert!(c.has("httponly") && c.has("SameSite=Lax") && c.has("Path=/"));
        assert_eq!(c.attribute("max-age"), Some("60"));
        assert_eq!(c.header(), "s=v1.a.b");
        assert_ne!(c.tampered().value, c.value);
    }
}
