//! Email addresses as account keys.
//!
//! One normalisation, applied wherever an address comes in (sign-up, sign-in, an identity
//! provider's `email` claim), so that spellings a person cannot tell apart are one account:
//!
//! 1. surrounding whitespace is trimmed; whitespace, control, invisible (Unicode
//!    `Default_Ignorable_Code_Point`: zero-width spaces and joiners, soft hyphens, variation
//!    selectors, fillers…) and bidi-control characters anywhere else are refused, because they
//!    make two different strings look identical;
//! 2. the local part is brought to Unicode NFKC and lower-cased (compatibility forms such as
//!    fullwidth `ａ` or the `ﬁ` ligature become their plain letters). RFC 5321 lets the local
//!    part be case-sensitive, but no mainstream provider treats it so;
//! 3. the domain goes through IDNA (UTS #46, strict) to its ASCII form, `xn--…` for
//!    internationalised names, which also lower-cases and normalises it.
//!
//! Stores never key anything by the address itself: they use [`Email::hash`].

mod unicode;

use crate::token::TokenHash;

/// A normalised email address (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Email(String);

/// RFC 5321's limit on a forward path.
const MAX_EMAIL_LEN: usize = 254;

impl Email {
    /// Validates and normalises an address as a user typed it; the error is the client's message.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("email is required");
        }
        // Bounded before any Unicode work; NFKC can lengthen a string, so checked again below.
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err("email is too long");
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email must not contain spaces or control characters");
        }
        if unicode::has_invisible(trimmed) {
            return Err("email must not contain invisible or text-direction characters");
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or("email must contain @")?;
        if local.is_empty() || domain.is_empty() || local.contains('@') {
            return Err("email must look like name@domain");
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err("email domain is malformed");
        }
        // NFKC again after lower-casing: lower-casing can undo a composition.
        let local = unicode::nfkc(&unicode::lowercase(&unicode::nfkc(local)));
        let domain = unicode::domain_to_ascii_strict(domain).ok_or("email domain is malformed")?;
        if local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
            || unicode::has_invisible(&local)
        {
            return Err("email must look like name@domain");
        }
        let normalised = format!("{local}@{domain}");
        if normalised.len() > MAX_EMAIL_LEN {
            return Err("email is too long");
        }
        Ok(Email(normalised))
    }

    /// Rebuilds an address read back from the store, where it was stored normalised.
    pub fn from_stored(s: String) -> Self {
        Email(s)
    }

    /// The part after the last `@`: lower-case ASCII (IDNA's `xn--` form).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The normalised address, for storing and for mail (never for logs).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the normalised address: what stores key users by, so no table or index
    /// holds an address as a key.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }
}

/// A configured email domain (an allowlist entry) in the form [`Email::domain`] returns.
pub fn normalise_domain(domain: &str) -> Option<String> {
    unicode::domain_to_ascii_strict(domain.trim()).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::Email;

    fn norm(raw: &str) -> String {
        Email::parse(raw)
            .unwrap_or_else(|e| panic!("{raw:?}: {e}"))
            .as_str()
            .to_owned()
    }

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(norm("  Alice@Example.COM "), "alice@example.com");
    }

    #[test]
    fn look_alike_spellings_are_one_address() {
        // Fullwidth letters, a ligature, a composed and a decomposed é, an upper-case IDN.
        assert_eq!(norm("ａｌｉｃｅ@ｅｘａｍｐｌｅ.com"), "alice@example.com");
        assert_eq!(norm("\u{FB01}n@example.com"), "fin@example.com");
        assert_eq!(
            norm("jos\u{E9}@example.com"),
            norm("jose\u{301}@example.com")
        );
        assert_eq!(norm("JOS\u{C9}@example.com"), norm("jos\u{E9}@example.com"));
        assert_eq!(norm("a@B\u{DC}CHER.de"), "a@xn--bcher-kva.de");
        assert_eq!(norm("a@xn--bcher-kva.de"), norm("a@bücher.de"));
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for raw in [
            "ａｌｉｃｅ@ｅｘａｍｐｌｅ.com",
            "JOS\u{C9}@B\u{DC}CHER.de",
            "\u{FB01}@x.org",
            "Ǆ@x.org",
        ] {
            assert_eq!(norm(&norm(raw)), norm(raw), "{raw:?}");
        }
    }

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for bad in [
            "al\u{200B}ice@example.com",
            "al\u{200D}ice@example.com",
            "al\u{00AD}ice@example.com",
            "alice\u{FEFF}@example.com",
            "alice@exa\u{200C}mple.com",
            "ali\u{202E}ecila@example.com",
            "alice\u{2066}@example.com",
            "a\u{FE0F}@example.com",
            "\u{3164}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "   ",
            "alice",
            "@x.com",
            "alice@",
            "a b@x.com",
            "a@x..com",
            "a@.x",
            "a\0@x.com",
            "a@exa_mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(250))).is_err());
        // Within the limit as typed, over it once the ligatures are expanded.
        assert!(Email::parse(&format!("{}@x.com", "\u{2177}".repeat(70))).is_err());
    }

    #[test]
    fn the_store_key_is_a_hash_not_the_address() {
        let email = Email::parse("Alice@Example.com").unwrap();
        assert_eq!(
            email.hash(),
            Email::parse("alice@example.com").unwrap().hash()
        );
        assert!(!format!("{:?}", email.hash()).contains("alice"));
    }
}
