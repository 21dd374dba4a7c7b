//! RFC 8628 user codes: 8 characters of the base-20 consonant alphabet (§6.1), shown as
//! `XXXX-XXXX`, accepted in any case with or without the dash.

use crate::crypto::{KeyRing, random_array};
use crate::token::TokenHash;

/// No vowels (no words), no look-alikes such as 0/O or 1/I.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code, not counting the dash it is shown with.
pub const LENGTH: usize = 8;

crate::secret::secret_type!(
    /// A user code, normalised (upper case, no dash): what the user types to approve a device.
    #[derive(Clone)]
    pub struct UserCode(String);
);

impl UserCode {
    /// A fresh code. 20^8 ≈ 2^34.6 codes; guessing is rate-limited and each code lives minutes.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut code = String::with_capacity(LENGTH);
        while code.len() < LENGTH {
            for byte in random_array::<16>()? {
                // 240 = 12 × 20: rejecting larger bytes keeps every letter equally likely.
                if byte < 240 && code.len() < LENGTH {
                    code.push(ALPHABET[usize::from(byte % 20)] as char);
                }
            }
        }
        Ok(UserCode(code))
    }

    /// What a user typed, normalised; `None` unless it can be a code at all.
    pub fn normalise(typed: &str) -> Option<Self> {
        let code: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b)))
            .then_some(UserCode(code))
    }

    /// `XXXX-XXXX`, as shown to the user.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

/// Domain separation: a tag made for user codes is valid for nothing else.
const HASH_CONTEXT: &[u8] = b"authfn/user-code/v1\0";

/// How a user code is stored: an HMAC under the session keys. A plain hash would not do:
/// 20^8 codes fall to a brute force in seconds, and whoever read the store could then approve
/// a pending device into their own account.
pub fn hash(keys: &KeyRing, code: &UserCode) -> TokenHash {
    TokenHash::of(&keys.sign(HASH_CONTEXT, code.0.as_bytes()))
}

/// Every hash a live code may be stored under: the current key's, then those of keys being
/// rotated out (a code lives minutes; a key rotation must not strand it).
pub fn hashes(keys: &KeyRing, code: &UserCode) -> Vec<TokenHash> {
    keys.sign_each(HASH_CONTEXT, code.0.as_bytes())
        .iter()
        .map(|tag| TokenHash::of(tag))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_round_trip_through_display() {
        for _ in 0..100 {
            let code = UserCode::generate().unwrap();
            assert_eq!(code.secret().len(), 8);
            assert!(code.secret().bytes().all(|b| ALPHABET.contains(&b)));
            assert!(UserCode::normalise(&code.display()).is_some_and(|c| c.ct_eq(&code)));
            assert!(
                UserCode::normalise(&code.display().to_lowercase()).is_some_and(|c| c.ct_eq(&code))
            );
        }
        assert_eq!(
            format!("{:?}", UserCode::generate().unwrap()),
            "UserCode([redacted])"
        );
    }

    #[test]
    fn codes_are_stored_under_a_keyed_hash_that_survives_rotation() {
        use crate::crypto::HmacKey;
        let old = KeyRing::new(HmacKey::new(vec![1; 32]).unwrap(), vec![]);
        let rotated = KeyRing::new(
            HmacKey::new(vec![2; 32]).unwrap(),
            vec![HmacKey::new(vec![1; 32]).unwrap()],
        );
        let code = |c: &str| UserCode::normalise(c).unwrap();
        let stored = hash(&old, &code("BCDFGHJK"));
        assert_ne!(
            stored,
            TokenHash::of(b"BCDFGHJK"),
            "not a plain hash anyone can recompute"
        );
        assert_ne!(stored, hash(&old, &code("BCDFGHJL")));
        assert_eq!(
            hashes(&rotated, &code("BCDFGHJK")),
            vec![hash(&rotated, &code("BCDFGHJK")), stored]
        );
    }

    #[test]
    fn typed_codes_are_forgiving_but_strict() {
        let normalise = |typed: &str| UserCode::normalise(typed).map(|c| c.secret().clone());
        assert_eq!(normalise(" bcdf-ghjk "), Some("BCDFGHJK".into()));
        assert_eq!(normalise("bcdfghjk"), Some("BCDFGHJK".into()));
        assert_eq!(
            normalise("BCDF-GHJA"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalise("BCDF-GHJ"), None);
        assert_eq!(normalise("BCDF-GHJKL"), None);
    }
}
