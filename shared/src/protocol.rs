//! OAuth 2.0 values shared by the token issuer (`oauth`) and sign-in through upstream
//! providers (`federation`): who a client is, what proves it, and what it may do.

use crate::secret::secret_type;

/// An OAuth client's identifier: one of ours (`AUTHFN_OAUTH_CLIENTS`) or ours at an upstream
/// provider. Public, so it may be shown and logged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// A client id as configured or presented; whether it names a known client is checked
    /// where it is looked up.
    pub fn new(id: impl Into<String>) -> Self {
        ClientId(id.into())
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client id read back from the store.
impl From<String> for ClientId {
    fn from(id: String) -> Self {
        ClientId(id)
    }
}

impl From<&str> for ClientId {
    fn from(id: &str) -> Self {
        ClientId(id.to_owned())
    }
}

impl std::borrow::Borrow<str> for ClientId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

secret_type!(
    /// A client secret: an upstream provider's for this app, or one a confidential client of
    /// ours presented.
    #[derive(Clone)]
    pub struct ClientSecret(String);
);

impl ClientSecret {
    /// A secret as configured or presented.
    pub fn new(secret: String) -> Self {
        ClientSecret(secret)
    }
}

/// A space-separated OAuth scope (RFC 6749 §3.3), without repeats.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    /// The scope of these parts, in order, each once.
    pub fn of<'a>(parts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut kept: Vec<&str> = Vec::new();
        for part in parts {
            if !kept.contains(&part) {
                kept.push(part);
            }
        }
        Scope(kept.join(" "))
    }

    /// Its parts.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split_whitespace()
    }

    /// Whether `part` was granted.
    pub fn contains(&self, part: &str) -> bool {
        self.iter().any(|p| p == part)
    }

    /// Whether nothing was granted.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The scope as sent on the wire and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A scope read back from the store, as it was granted.
impl From<String> for Scope {
    fn from(scope: String) -> Self {
        Scope(scope)
    }
}

impl From<&str> for Scope {
    fn from(scope: &str) -> Self {
        Scope(scope.to_owned())
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_never_shows_in_debug() {
        let secret = ClientSecret::new("s3cr3t-value-0123456789".into());
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
    }

    #[test]
    fn a_scope_keeps_each_part_once_in_order() {
        let scope = Scope::of("openid email openid offline_access".split_whitespace());
        assert_eq!(scope.as_str(), "openid email offline_access");
        assert!(scope.contains("email") && !scope.contains("profile"));
        assert!(Scope::of([]).is_empty());
    }
}
