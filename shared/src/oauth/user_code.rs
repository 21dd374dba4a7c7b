//! RFC 8628 user codes: 8 characters of the base-20 consonant alphabet (§6.1), shown as
//! `XXXX-XXXX`, accepted in any case with or without the dash.

use crate::crypto::random_array;

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
    fn typed_codes_are_forgiving_but_strict() {
        assert_eq!(normalise(" bcdf-ghjk "), Some("BCDFGHJK".into()));
        assert_eq!(normalise("bcdfghjk"), Some("BCDFGHJK".into()));
        assert_eq!(normalise("BCDF-GHJA"), None, "vowels are not in the alphabet");
        assert_eq!(normalise("BCDF-GHJ"), None);
        assert_eq!(normalise("BCDF-GHJKL"), None);
    }
}
