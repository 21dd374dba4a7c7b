//! Email addresses as account keys.

/// A normalised email address: trimmed and lower-cased as a whole. Lower-casing the local part
/// too (RFC 5321 lets it be case-sensitive, but no mainstream provider treats it so) means
/// `Alice@x.com` and `alice@x.com` can never be two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Email(String);

/// RFC 5321's limit on a forward path.
const MAX_EMAIL_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("email is required");
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err("email is too long");
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email must not contain spaces or control characters");
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or("email must contain @")?;
        if local.is_empty() || domain.is_empty() || local.contains('@') {
            return Err("email must look like name@domain");
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err("email domain is malformed");
        }
        Ok(Email(trimmed.to_lowercase()))
    }

    /// Rebuilds an address read back from the store, where it was stored normalised.
    pub fn from_stored(s: String) -> Self {
        Email(s)
    }

    /// The part after the last `@`, lower-case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(Email::parse("  Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in ["", "   ", "alice", "@x.com", "alice@", "a b@x.com", "a@x..com", "a@.x", "a\0@x.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(250))).is_err());
    }
}
