//! Recovery codes: the second factor of last resort, ten per account, each single use, shown
//! once at TOTP confirmation (or regeneration) and stored only as hashes.
//!
//! A code is 16 characters of Crockford's base32 (80 random bits), shown as
//! `XXXX-XXXX-XXXX-XXXX` and accepted in any case, with or without dashes and spaces, with
//! `O` read as `0` and `I`/`L` as `1`, since people copy these from paper.
//!
//! Stored as a plain SHA-256, bound to the account, not as an HMAC under the session keys
//! like user codes and mailed codes: those live minutes, these live for years, and a code must
//! not stop working because a session key was retired. 80 bits are out of reach of a brute
//! force of the hash, so the key would add nothing.

use crate::crypto::random_array;
use crate::secret::secret_type;
use crate::token::{TokenHash, UserId};

/// How many codes an account gets at a time.
pub const COUNT: usize = 10;

/// Characters in a code, not counting the dashes it is shown with.
pub const LENGTH: usize = 16;

/// Crockford's base32: digits and upper-case letters without I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Domain separation: a hash made for recovery codes is the hash of nothing else.
const HASH_CONTEXT: &[u8] = b"authfn/recovery-code/v1\0";

secret_type!(
    /// A recovery code, normalised (16 characters of [`ALPHABET`], no dashes). Not `Clone`:
    /// each is used once.
    pub struct RecoveryCode(String);
);

impl RecoveryCode {
    /// A fresh code from 10 random bytes: each 5 bits pick one of 32 characters, so every
    /// character is equally likely without rejection.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let bytes: [u8; 10] = random_array()?;
        let bits = bytes
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        let code = (0..LENGTH)
            .rev()
            .map(|i| char::from(ALPHABET[usize::try_from((bits >> (5 * i)) & 0x1f).unwrap_or(0)]))
            .collect();
        Ok(RecoveryCode(code))
    }

    /// A fresh set of [`COUNT`] codes.
    pub fn generate_set() -> Result<Vec<Self>, getrandom::Error> {
        (0..COUNT).map(|_| Self::generate()).collect()
    }

    /// What a user typed, normalised; `None` unless it can be a code at all.
    pub fn normalise(typed: &str) -> Option<Self> {
        let code: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b)))
            .then_some(RecoveryCode(code))
    }

    /// `XXXX-XXXX-XXXX-XXXX`, as shown to the user (once).
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..LENGTH / 4).map(|g| &self.0[g * 4..g * 4 + 4]).collect();
        groups.join("-")
    }

    /// How the code is stored for `user`: SHA-256 over the context, the user id and the code,
    /// so equal codes of two accounts hash apart.
    pub fn hash(&self, user: &UserId) -> TokenHash {
        let mut input = zeroize::Zeroizing::new(Vec::with_capacity(
            HASH_CONTEXT.len() + user.as_str().len() + 1 + LENGTH,
        ));
        input.extend_from_slice(HASH_CONTEXT);
        input.extend_from_slice(user.as_str().as_bytes());
        input.push(0);
        input.extend_from_slice(self.0.as_bytes());
        TokenHash::of(&input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_round_trip_through_display() {
        for _ in 0..200 {
            let code = RecoveryCode::generate().unwrap();
            assert_eq!(code.secret().len(), LENGTH);
            assert!(code.secret().bytes().all(|b| ALPHABET.contains(&b)));
            let shown = code.display();
            assert_eq!(shown.len(), LENGTH + 3);
            assert_eq!(shown.matches('-').count(), 3);
            assert!(RecoveryCode::normalise(&shown).is_some_and(|c| c.ct_eq(&code)));
            assert!(RecoveryCode::normalise(&shown.to_lowercase()).is_some_and(|c| c.ct_eq(&code)));
        }
    }

    #[test]
    fn every_character_is_used() {
        let seen: std::collections::HashSet<u8> = (0..200)
            .flat_map(|_| {
                RecoveryCode::generate()
                    .unwrap()
                    .secret()
                    .clone()
                    .into_bytes()
            })
            .collect();
        assert_eq!(
            seen.len(),
            32,
            "3200 draws miss one of 32 characters with probability < 2^-140"
        );
    }

    #[test]
    fn look_alikes_and_spacing_are_forgiven() {
        let code = RecoveryCode::normalise("0123-4567-89AB-CDEF").unwrap();
        for typed in [
            "o123 4567 89ab cdef",
            "O1234567-89abcdef",
            "0I23-4567-89AB-CDEF",
            "0l23456789ABCDEF",
            " 0123-4567-89AB-CDEF\n",
        ] {
            assert!(
                RecoveryCode::normalise(typed).is_some_and(|c| c.ct_eq(&code)),
                "{typed:?}"
            );
        }
        for bad in [
            "",
            "0123-4567-89AB-CDE",
            "0123-4567-89AB-CDEF0",
            "0123-4567-89AB-CDEU",
            "0123-4567-89AB-CDE!",
        ] {
            assert!(RecoveryCode::normalise(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_set_has_ten_distinct_codes() {
        let set = RecoveryCode::generate_set().unwrap();
        assert_eq!(set.len(), COUNT);
        let distinct: std::collections::HashSet<&String> =
            set.iter().map(RecoveryCode::secret).collect();
        assert_eq!(distinct.len(), COUNT);
    }

    #[test]
    fn the_hash_is_bound_to_the_account_and_never_the_code() {
        let code = RecoveryCode::normalise("0123456789ABCDEF").unwrap();
        let (ada, bob) = (
            UserId::from_stored("ada".into()),
            UserId::from_stored("bob".into()),
        );
        assert_eq!(
            code.hash(&ada),
            RecoveryCode::normalise("o123-4567-89ab-cdef")
                .unwrap()
                .hash(&ada)
        );
        assert_ne!(code.hash(&ada), code.hash(&bob));
        assert_ne!(
            code.hash(&ada),
            RecoveryCode::normalise("0123456789ABCDEG")
                .unwrap()
                .hash(&ada)
        );
        assert!(
            !code
                .hash(&ada)
                .to_hex()
                .to_uppercase()
                .contains("0123456789ABCDEF")
        );
        assert_eq!(format!("{code:?}"), "RecoveryCode([redacted])");
    }
}
