//! TOTP codes as an authenticator app computes them (RFC 6238 over RFC 4226: HMAC-SHA1, 6
//! digits, 30-second steps), written here from the RFCs rather than taken from authfn, so the
//! suite checks authfn against an independent implementation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};

/// The length of a time step.
pub const STEP: Duration = Duration::from_secs(30);

/// The secret's bytes from RFC 4648 base32 (upper case, no padding), as enrolment shows it.
#[track_caller]
pub fn decode_base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("not base32: {text}"));
        bits = (bits << 5) | u64::try_from(value).expect("below 32");
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).expect("one byte"));
        }
    }
    out
}

/// Seconds since the Unix epoch, on this machine's clock (the deployment's, when it runs here).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The 6-digit code for `secret` (base32) at Unix time `at`.
pub fn code_at(secret: &str, at: u64) -> String {
    let key = decode_base32(secret);
    let counter = at / STEP.as_secs();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let truncated = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", truncated % 1_000_000)
}

/// The code for the step after the current one: one step of skew, which authfn accepts, so a
/// test can use a step newer than one just used without waiting for the clock.
pub fn next_code(secret: &str) -> String {
    code_at(secret, now() + STEP.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        // "12345678901234567890" in base32; the RFC's 8-digit values, last six digits.
        let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        for (t, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(seed, t), expected[2..], "T = {t}");
        }
    }
}
