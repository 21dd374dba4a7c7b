//! The few primitives every token needs: OS randomness, SHA-256, HMAC-SHA256 with key rotation,
//! and base64url. All from RustCrypto; nothing hand-rolled.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Fills a fixed-size array from the operating system's CSPRNG.
///
/// Failing to get randomness is not recoverable and must never fall back to something weaker,
/// so it is surfaced as an error the caller turns into a 503.
pub fn random_array<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

/// The SHA-256 digest of `data` (key ids, PKCE challenges, derived per-attempt values).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The HMAC (`M`, e.g. `Hmac<Sha256>`) of `message` under `key`, of any length. Zeroized when
/// dropped: HOTP's digests and SigV4's derived signing keys are both secrets.
pub fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// Equality whose running time does not depend on where the inputs differ (only on length).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Base64url without padding: the encoding of every token, tag and key authfn writes. In
/// constant time (`base64ct`), since what it encodes and decodes is mostly secret.
pub fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded base64url, `None` when `text` is not that.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

crate::secret::secret_type!(
    /// A secret HMAC key (session cookies, device cookies, user-code hashes).
    #[derive(Clone)]
    pub struct HmacKey(Vec<u8>);
);

/// Keys shorter than this are refused at start-up: HMAC-SHA256 wants a full-strength key.
pub const MIN_HMAC_KEY_BYTES: usize = 32;

impl HmacKey {
    /// A key from configured bytes; an error (naming the rule, never the key) when shorter than
    /// [`MIN_HMAC_KEY_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_HMAC_KEY_BYTES {
            return Err(format!(
                "HMAC keys must be at least {MIN_HMAC_KEY_BYTES} bytes"
            ));
        }
        Ok(HmacKey(bytes))
    }

    /// A fresh random key of [`MIN_HMAC_KEY_BYTES`] bytes.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(HmacKey(random_array::<32>()?.to_vec()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
}

/// The current key signs; the previous keys still verify, so keys rotate without signing
/// everybody out.
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: HmacKey,
    previous: Vec<HmacKey>,
}

impl KeyRing {
    /// A ring that signs with `current` and also accepts tags made with any of `previous`.
    pub fn new(current: HmacKey, previous: Vec<HmacKey>) -> Self {
        KeyRing { current, previous }
    }

    /// The tag of `message` under the current key; `context` separates tags made for
    /// different purposes, so one can never stand in for another.
    pub fn sign(&self, context: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = self.current.mac();
        mac.update(context);
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// The tag under every key of the ring, the current key's first: for looking up a
    /// value stored under a keyed hash while keys rotate.
    pub fn sign_each(&self, context: &[u8], message: &[u8]) -> Vec<[u8; 32]> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| {
                let mut mac = key.mac();
                mac.update(context);
                mac.update(message);
                mac.finalize().into_bytes().into()
            })
            .collect()
    }

    /// True when `tag` was made by any key of the ring. Each comparison is constant-time
    /// (`verify_slice`), and every key is tried, so timing does not tell which key matched.
    pub fn verify(&self, context: &[u8], message: &[u8], tag: &[u8]) -> bool {
        let mut ok = false;
        for key in std::iter::once(&self.current).chain(&self.previous) {
            let mut mac = key.mac();
            mac.update(context);
            mac.update(message);
            ok |= mac.verify_slice(tag).is_ok();
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> HmacKey {
        HmacKey::new(vec![b; 32]).unwrap()
    }

    #[test]
    fn previous_keys_verify_but_do_not_sign() {
        let old = KeyRing::new(key(1), vec![]);
        let rotated = KeyRing::new(key(2), vec![key(1)]);
        let tag = old.sign(b"ctx", b"msg");
        assert!(rotated.verify(b"ctx", b"msg", &tag));
        assert_ne!(rotated.sign(b"ctx", b"msg"), tag);
        let dropped = KeyRing::new(key(2), vec![]);
        assert!(!dropped.verify(b"ctx", b"msg", &tag));
    }

    #[test]
    fn context_separates_tags() {
        let ring = KeyRing::new(key(1), vec![]);
        let tag = ring.sign(b"a", b"msg");
        assert!(!ring.verify(b"b", b"msg", &tag));
        assert!(!ring.verify(b"a", b"msg2", &tag));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(HmacKey::new(vec![0; 31]).is_err());
    }
}
