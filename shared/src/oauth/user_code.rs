//! RFC 8628 user codes: 8 characters of the base-20 consonant alphabet (§6.1), shown as
//! `XXXX-XXXX`, accepted in any case with or without the dash.

use crate::crypto::{KeyRing, random_array};
use crate::token::TokenHash;

/// No vowels (no words), no look-alikes such as 0/O or 1/I.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const LENGTH: usize = 8;

/// A fresh code, normalised (no dash). 20^8 ≈ 2^34.6 codes; guessing is rate-limited and each
/// code lives minutes.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut code = String::with_capacity(LENGTH);
    while code.len() < LENGTH {
        for byte in random_array::<16>()? {
            // 240 = 12 × 20: rejecting larger bytes keeps every letter equally likely.
            if byte < 240 && code.len() < LENGTH {
                code.push(ALPHABET[usize::from(byte % 20)] as char);
            }
        }
    }
    Ok(code)
}

/// What a user typed, normalised; `None` unless it can be a code at all.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// Domain separation: a tag made for user codes is valid for nothing else.
const HASH_CONTEXT: &[u8] = b"authfn/user-code/v1\0";

/// How a (normalised) user code is stored: an HMAC under the session keys. A plain hash would
/// not do: 20^8 codes fall to a brute force in seconds, and whoever read the store could then
/// approve a pending device into their own account.
pub fn hash(keys: &KeyRing, code: &str) -> TokenHash {
    TokenHash::of(&keys.sign(HASH_CONTEXT, code.as_bytes()))
}

/// Every hash a live code may be stored under: the current key's, then those of keys being
/// rotated out (a code lives minutes; a key rotation must not strand it).
pub fn hashes(keys: &KeyRing, code: &str) -> Vec<TokenHash> {
    keys.sign_each(HASH_CONTEXT, code.as_bytes()).iter().map(|tag| TokenHash::of(tag)).collect()
}

/// `XXXX-XXXX`.
pub fn display(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_round_trip_through_display() {
        for _ in 0..100 {
            let code = generate().unwrap();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(normalise(&display(&code)), Some(code.clone()));
            assert_eq!(normalise(&display(&code).to_lowercase()), Some(code));
        }
    }

    #[test]
    fn codes_are_stored_under_a_keyed_hash_that_survives_rotation() {
        use crate::crypto::HmacKey;
        let old = KeyRing::new(HmacKey::new(vec![1; 32]).unwrap(), vec![]);
        let rotated = KeyRing::new(HmacKey::new(vec![2; 32]).unwrap(), vec![HmacKey::new(vec![1; 32]).unwrap()]);
        let stored = hash(&old, "BCDFGHJK");
        assert_ne!(stored, TokenHash::of(b"BCDFGHJK"), "not a plain hash anyone can recompute");
        assert_ne!(stored, hash(&old, "BCDFGHJL"));
        assert_eq!(hashes(&rotated, "BCDFGHJK"), vec![hash(&rotated, "BCDFGHJK"), stored]);
    }

    #[test]
    fn typed_codes_are_forgiving_but_strict() {
        assert_eq!(normalise(" bcdf-ghjk "), Some("BCDFGHJK".into()));
        assert_eq!(normalise("bcdfghjk"), Some("BCDFGHJK".into()));
        assert_eq!(normalise("BCDF-GHJA"), None, "vowels are not in the alphabet");
        assert_eq!(normalise("BCDF-GHJ"), None);
        assert_eq!(normalise("BCDF-GHJKL"), None);
    }
}
