//! Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226): the codes authenticator apps
//! show. authfn issues SHA-1, 6 digits and a 30 s step, the one combination every app accepts;
//! SHA-256 and SHA-512 are here for the RFC's test vectors.
//!
//! A code is accepted one step either side of now (clock skew). [`TotpSecret::verify`] returns
//! the time step it matched: the caller records that step atomically and refuses a step that is
//! not newer than the last one accepted, so a code cannot be replayed within its window.

use std::time::Duration;

use base32ct::{Base32UpperUnpadded, Encoding};
use hmac::Hmac;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroize;

use crate::clock::UnixTime;
use crate::crypto;
use crate::secret::secret_type;

/// The length of a TOTP time step.
pub const PERIOD: Duration = Duration::from_secs(30);

/// How many steps before and after the current one a code is still accepted for.
pub const SKEW_STEPS: u64 = 1;

/// The length of a generated secret: 160 bits, RFC 4226's recommendation and SHA-1's block
/// output, which every authenticator app accepts.
pub const SECRET_BYTES: usize = 20;

/// The HMAC a one-time password is computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1: what authfn issues, and what authenticator apps assume.
    Sha1,
    /// HMAC-SHA256 (RFC 6238's vectors; few apps support it).
    Sha256,
    /// HMAC-SHA512 (RFC 6238's vectors; few apps support it).
    Sha512,
}

/// How many decimal digits a code has. An enum rather than a number so no call can ask for a
/// length the 31-bit truncation cannot fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digits {
    /// Six digits: what authfn issues.
    Six,
    /// Eight digits (RFC 6238's vectors).
    Eight,
}

impl Digits {
    fn count(self) -> usize {
        match self {
            Digits::Six => 6,
            Digits::Eight => 8,
        }
    }

    fn modulus(self) -> u32 {
        match self {
            Digits::Six => 1_000_000,
            Digits::Eight => 100_000_000,
        }
    }
}

/// The digits authfn issues.
pub const DIGITS: Digits = Digits::Six;

/// RFC 4226 HOTP: the code for `counter` under `key`, as a number (format it with
/// [`format_code`] to keep leading zeros).
pub fn hotp(algorithm: Algorithm, key: &[u8], counter: u64, digits: Digits) -> u32 {
    let message = counter.to_be_bytes();
    let digest = match algorithm {
        Algorithm::Sha1 => crypto::hmac::<Hmac<sha1::Sha1>>(key, &message),
        Algorithm::Sha256 => crypto::hmac::<Hmac<sha2::Sha256>>(key, &message),
        Algorithm::Sha512 => crypto::hmac::<Hmac<sha2::Sha512>>(key, &message),
    };
    // Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte picks 4 bytes, whose
    // top bit is dropped. Every digest is at least 20 bytes, so offset + 4 <= 19 is in range.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let mut word = [0u8; 4];
    word.copy_from_slice(&digest[offset..offset + 4]);
    (u32::from_be_bytes(word) & 0x7fff_ffff) % digits.modulus()
}

/// A code as the user types it: zero-padded to its number of digits.
pub fn format_code(code: u32, digits: Digits) -> String {
    format!("{code:0width$}", width = digits.count())
}

/// The 30-second step `time` falls in (RFC 6238's T with T0 = 0); `None` before the epoch.
pub fn time_step(time: UnixTime) -> Option<u64> {
    u64::try_from(time.0)
        .ok()
        .map(|secs| secs / PERIOD.as_secs())
}

/// RFC 6238 TOTP: the code for the step `time` falls in, with a 30 s step from the epoch;
/// `None` before the epoch.
pub fn totp(algorithm: Algorithm, key: &[u8], time: UnixTime, digits: Digits) -> Option<u32> {
    time_step(time).map(|step| hotp(algorithm, key, step, digits))
}

secret_type!(
    /// The shared secret of an account's authenticator app: 20 random bytes, shown once as
    /// base32 at enrolment and otherwise kept only encrypted (see `data_keys`). Zeroed on drop.
    pub struct TotpSecret([u8; SECRET_BYTES]);
);

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What the `otpauth://` label and issuer leave unencoded: RFC 3986's unreserved characters.
/// Everything else, the `:` that separates issuer from account among them, is percent-encoded.
const LABEL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl TotpSecret {
    /// A fresh secret from the operating system's randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(TotpSecret(crypto::random_array()?))
    }

    /// The secret from its stored bytes (after decryption); `None` unless exactly
    /// [`SECRET_BYTES`] long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TotpSecret)
    }

    /// The secret from RFC 4648 base32 as shown to the user (upper case, no padding); `None`
    /// when it is not that or not [`SECRET_BYTES`] long.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Base32UpperUnpadded::decode_vec(text).ok()?;
        let secret = Self::from_bytes(&bytes);
        bytes.zeroize();
        secret
    }

    /// RFC 4648 base32 without padding: what the user types into an app that cannot scan the
    /// QR code, and the `secret` parameter of the `otpauth://` URI.
    pub fn to_base32(&self) -> String {
        Base32UpperUnpadded::encode_string(&self.0)
    }

    /// The code an authenticator app shows at `now`; `None` before the epoch.
    pub fn code_at(&self, now: UnixTime) -> Option<String> {
        totp(Algorithm::Sha1, &self.0, now, DIGITS).map(|code| format_code(code, DIGITS))
    }

    /// The time step `code` is valid for at `now`, within [`SKEW_STEPS`] either side; `None`
    /// when it matches none. The caller must then accept the step only if it is newer than the
    /// last step accepted for this secret, atomically, or a code could be used twice.
    ///
    /// `code` must be exactly 6 ASCII digits (callers strip spaces users type). Every step of
    /// the window is computed and compared in constant time, so timing does not tell which
    /// step, if any, matched.
    pub fn verify(&self, code: &str, now: UnixTime) -> Option<u64> {
        if code.len() != DIGITS.count() || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = time_step(now)?;
        let mut matched = None;
        for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
            let expected = format_code(hotp(Algorithm::Sha1, &self.0, step, DIGITS), DIGITS);
            if crypto::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
                // The latest matching step, should two steps share a code: the stricter
                // bound for replay.
                matched = Some(step);
            }
        }
        matched
    }

    /// The Key URI that authenticator apps scan (as a QR code):
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`,
    /// with the issuer and account percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = utf8_percent_encode(issuer, LABEL_ENCODE).to_string();
        let account = utf8_percent_encode(account, LABEL_ENCODE);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={}&period={}",
            self.to_base32(),
            DIGITS.count(),
            PERIOD.as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_KEY: &[u8] = b"12345678901234567890";
    const SHA256_KEY: &[u8] = b"12345678901234567890123456789012";
    const SHA512_KEY: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn hotp_matches_rfc4226_appendix_d() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in (0u64..).zip(expected) {
            assert_eq!(
                hotp(Algorithm::Sha1, SHA1_KEY, counter, Digits::Six),
                code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn totp_matches_every_rfc6238_appendix_b_vector() {
        // (time, SHA-1, SHA-256, SHA-512), 8 digits, each algorithm with its own seed.
        let vectors: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in vectors {
            let code = |algorithm, key| {
                format_code(
                    totp(algorithm, key, UnixTime(time), Digits::Eight).unwrap(),
                    Digits::Eight,
                )
            };
            assert_eq!(code(Algorithm::Sha1, SHA1_KEY), sha1, "SHA-1 at {time}");
            assert_eq!(
                code(Algorithm::Sha256, SHA256_KEY),
                sha256,
                "SHA-256 at {time}"
            );
            assert_eq!(
                code(Algorithm::Sha512, SHA512_KEY),
                sha512,
                "SHA-512 at {time}"
            );
        }
    }

    #[test]
    fn the_step_is_thirty_seconds_from_the_epoch() {
        assert_eq!(time_step(UnixTime(0)), Some(0));
        assert_eq!(time_step(UnixTime(29)), Some(0));
        assert_eq!(time_step(UnixTime(30)), Some(1));
        assert_eq!(time_step(UnixTime(1_111_111_109)), Some(0x023523EC));
        assert_eq!(time_step(UnixTime(-1)), None);
    }

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(SHA1_KEY).unwrap()
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let secret = rfc_secret();
        let now = UnixTime(1_111_111_111);
        let step = time_step(now).unwrap();
        let code_of = |s: u64| format_code(hotp(Algorithm::Sha1, SHA1_KEY, s, DIGITS), DIGITS);
        assert_eq!(
            secret.verify(&secret.code_at(now).unwrap(), now),
            Some(step)
        );
        assert_eq!(secret.verify(&code_of(step - 1), now), Some(step - 1));
        assert_eq!(secret.verify(&code_of(step + 1), now), Some(step + 1));
        assert_eq!(secret.verify(&code_of(step - 2), now), None);
        assert_eq!(secret.verify(&code_of(step + 2), now), None);
    }

    #[test]
    fn the_window_edges_follow_the_clock_to_the_second() {
        let secret = rfc_secret();
        // A code for step 100 (t = 3000..3029) is good from t = 2970 to t = 3059 inclusive.
        let code = format_code(hotp(Algorithm::Sha1, SHA1_KEY, 100, DIGITS), DIGITS);
        assert_eq!(secret.verify(&code, UnixTime(2969)), None);
        assert_eq!(secret.verify(&code, UnixTime(2970)), Some(100));
        assert_eq!(secret.verify(&code, UnixTime(3059)), Some(100));
        assert_eq!(secret.verify(&code, UnixTime(3060)), None);
    }

    #[test]
    fn the_first_steps_and_times_before_the_epoch_do_not_underflow() {
        let secret = rfc_secret();
        let step0 = format_code(hotp(Algorithm::Sha1, SHA1_KEY, 0, DIGITS), DIGITS);
        assert_eq!(secret.verify(&step0, UnixTime(0)), Some(0));
        assert_eq!(secret.verify(&step0, UnixTime(-5)), None);
        assert_eq!(secret.code_at(UnixTime(-5)), None);
    }

    #[test]
    fn codes_that_are_not_six_digits_are_refused() {
        let secret = rfc_secret();
        let now = UnixTime(59);
        let code = secret.code_at(now).unwrap();
        assert_eq!(code, "287082");
        for bad in [
            "",
            "28708",
            "2870820",
            " 287082",
            "28708a",
            "２８７０８２",
            "+87082",
        ] {
            assert_eq!(secret.verify(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn codes_keep_their_leading_zeros() {
        assert_eq!(format_code(7_081_804, Digits::Eight), "07081804");
        assert_eq!(format_code(42, Digits::Six), "000042");
    }

    #[test]
    fn base32_round_trips_without_padding() {
        let secret = rfc_secret();
        // RFC 4648 §10's alphabet: the RFC 6238 SHA-1 seed as apps show it.
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let again = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert!(again.ct_eq(&secret));
        let fresh = TotpSecret::generate().unwrap();
        let b32 = fresh.to_base32();
        assert_eq!(b32.len(), 32);
        assert!(!b32.contains('='));
        assert!(TotpSecret::from_base32(&b32).unwrap().ct_eq(&fresh));
        assert!(TotpSecret::from_base32("GEZDGNBV").is_none(), "too short");
        assert!(
            TotpSecret::from_base32("gezdgnbvgy3tqojqgezdgnbvgy3tqojq").is_none(),
            "lower case is not RFC 4648"
        );
        assert!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1").is_none(),
            "1 is not base32"
        );
    }

    #[test]
    fn fresh_secrets_differ() {
        assert!(
            !TotpSecret::generate()
                .unwrap()
                .ct_eq(&TotpSecret::generate().unwrap())
        );
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_parameters() {
        let secret = rfc_secret();
        assert_eq!(
            secret.otpauth_uri("Example", "alice@example.com"),
            "otpauth://totp/Example:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&algorithm=SHA1&digits=6&period=30"
        );
        // A colon, a space, an ampersand and non-ASCII in either part cannot break the URI apart.
        assert_eq!(
            secret.otpauth_uri("Acme & Co: Ünïcode", "a:b c"),
            "otpauth://totp/Acme%20%26%20Co%3A%20%C3%9Cn%C3%AFcode:a%3Ab%20c?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%26%20Co%3A%20%C3%9Cn%C3%AFcode&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret([redacted])");
    }
}
