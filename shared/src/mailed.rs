//! The secrets a mail carries: a link token and a six-digit code, for one
//! [`EmailChallenge`](crate::store::EmailChallenge). The link is for the device that reads the
//! mail; the code is for typing on another device (a phone's mail, a laptop's browser).

use std::time::Duration;

use crate::crypto::{self, KeyRing};
use crate::secret::secret_type;
use crate::store::ChallengeKey;
use crate::token::TokenHash;

/// How long a sign-up's verification mail stays good.
pub const VERIFY_EMAIL_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a password reset, a sign-in code or an email change stays good.
pub const SHORT_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Wrong codes a challenge allows; the next one after these deletes it.
pub const MAX_CODE_FAILURES: u32 = 5;

secret_type!(
    /// The token in a mailed link: 32 random bytes, base64url. It travels in the link's
    /// fragment (`#token=…`), so it reaches neither a server log nor a `Referer`.
    pub struct MailToken([u8; 32]);
);

impl MailToken {
    /// A fresh token from the operating system's randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(MailToken(crypto::random_array()?))
    }

    /// A presented token; `None` unless it is 32 bytes of base64url.
    pub fn parse(presented: &str) -> Option<Self> {
        crypto::b64url_decode(presented.trim())?
            .try_into()
            .ok()
            .map(MailToken)
    }

    /// The form the store keeps it under. A plain hash suffices: 256 random bits.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The token as it appears in the link.
    pub fn encoded(&self) -> String {
        crypto::b64url(&self.0)
    }
}

/// Digits in a mailed code.
const CODE_DIGITS: usize = 6;

secret_type!(
    /// A mailed six-digit code. 10^6 values: only [`MAX_CODE_FAILURES`] tries per challenge
    /// and the per-address limits make guessing hopeless.
    pub struct MailCode(String);
);

impl MailCode {
    /// A fresh code, every value equally likely.
    pub fn generate() -> Result<Self, getrandom::Error> {
        loop {
            let n = u32::from_le_bytes(crypto::random_array()?);
            // 4_294_000_000 is the largest multiple of 10^6 below 2^32: rejecting the rest
            // keeps every code equally likely.
            if n < 4_294_000_000 {
                return Ok(MailCode(format!("{:06}", n % 1_000_000)));
            }
        }
    }

    /// What a user typed, without spaces or dashes; `None` unless it is six digits.
    pub fn normalise(typed: &str) -> Option<Self> {
        let code: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        (code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit()))
            .then_some(MailCode(code))
    }

    /// The code as the mail shows it.
    pub fn display(&self) -> &str {
        &self.0
    }
}

/// Domain separation: a tag made for mailed codes is valid for nothing else.
const CODE_HASH_CONTEXT: &[u8] = b"authfn/mail-code/v1\0";

fn code_message(key: &ChallengeKey, code: &MailCode) -> Vec<u8> {
    // Bound to the challenge's key, so one code's tag says nothing about another challenge.
    [key.as_str().as_bytes(), b"\0", code.0.as_bytes()].concat()
}

/// How a code is stored: an HMAC under the session keys, bound to its challenge. A plain hash
/// of six digits is reversed by trying all 10^6.
pub fn code_hash(keys: &KeyRing, key: &ChallengeKey, code: &MailCode) -> TokenHash {
    TokenHash::of(&keys.sign(CODE_HASH_CONTEXT, &code_message(key, code)))
}

/// Whether `code` is the one stored as `stored` under any current or retiring key, compared in
/// constant time.
pub fn code_matches(
    keys: &KeyRing,
    key: &ChallengeKey,
    code: &MailCode,
    stored: &TokenHash,
) -> bool {
    keys.sign_each(CODE_HASH_CONTEXT, &code_message(key, code))
        .iter()
        .fold(false, |found, tag| {
            found | crypto::constant_time_eq(TokenHash::of(tag).as_bytes(), stored.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_typed_codes_are_forgiving() {
        for _ in 0..100 {
            let code = MailCode::generate().unwrap();
            assert!(
                code.display().len() == 6 && code.display().bytes().all(|b| b.is_ascii_digit())
            );
        }
        assert_eq!(
            MailCode::normalise(" 123-456 ").unwrap().display(),
            "123456"
        );
        assert!(MailCode::normalise("12345").is_none() && MailCode::normalise("12345a").is_none());
    }

    #[test]
    fn a_code_matches_only_its_own_challenge() {
        let keys = KeyRing::new(crypto::HmacKey::generate().unwrap(), vec![]);
        let email = crate::email::Email::parse("ada@example.com").unwrap();
        let (reset, sign_up) = (
            ChallengeKey::password_reset(&email),
            ChallengeKey::sign_up(&email),
        );
        let code = MailCode::normalise("123456").unwrap();
        let stored = code_hash(&keys, &reset, &code);
        assert!(code_matches(&keys, &reset, &code, &stored));
        assert!(!code_matches(&keys, &sign_up, &code, &stored));
        assert!(!code_matches(
            &keys,
            &reset,
            &MailCode::normalise("123457").unwrap(),
            &stored
        ));
    }

    #[test]
    fn link_tokens_survive_the_round_trip_and_nothing_else_parses() {
        let token = MailToken::generate().unwrap();
        assert_eq!(
            MailToken::parse(&token.encoded()).unwrap().hash(),
            token.hash()
        );
        assert!(MailToken::parse("short").is_none() && MailToken::parse("").is_none());
    }
}
