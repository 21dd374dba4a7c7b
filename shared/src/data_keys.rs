//! Encryption at rest for the few secrets authfn must read back (a TOTP secret: checking a code
//! needs the secret itself, so it cannot be hashed like a token).
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`), chosen over AES-256-GCM because its
//! 24-byte nonce can be drawn at random for every encryption without counting how many
//! encryptions a key has made: random 12-byte GCM nonces collide after about 2^32 messages
//! under one key, and one collision leaks the authentication key. It is also constant-time in
//! software, which matters on wasm32, where AES has no hardware instructions.
//!
//! Keys come from `AUTHFN_DATA_KEYS` (comma-separated base64url 32-byte keys, current first),
//! rotated like the session keys: the current key encrypts, every key decrypts. A stored value
//! names its key by a 4-byte id, so decryption tries only that key (or the keys that share the
//! id). The associated data ([`Aad`]) binds a value to its record and purpose: a ciphertext
//! copied to another user's record, or read for another purpose, does not decrypt.
//!
//! Stored form: `v1.` then base64url of `key id (4) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto;
use crate::secret::secret_type;
use crate::settings::{ConfigError, Settings};

/// The setting the keys are read from.
pub const SETTING: &str = "AUTHFN_DATA_KEYS";

const PREFIX: &str = "v1.";
const KEY_ID_BYTES: usize = 4;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Domain separation for the associated data, with the format's version in it.
const AAD_CONTEXT: &[u8] = b"authfn/data/v1\0";
const KEY_ID_CONTEXT: &[u8] = b"authfn/data-key-id/v1\0";

secret_type!(
    /// A 32-byte XChaCha20-Poly1305 key. Zeroed on drop.
    #[derive(Clone)]
    pub struct DataKey([u8; 32]);
);

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl DataKey {
    /// A key from configured bytes; an error (naming the rule, never the key) unless exactly
    /// 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        bytes
            .try_into()
            .map(DataKey)
            .map_err(|_| "data keys must be exactly 32 bytes".to_owned())
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(DataKey(crypto::random_array()?))
    }

    /// The id a stored value names its key by: the first bytes of a SHA-256 of the key. It
    /// tells nothing about the key (a 32-bit prefix of a hash of 256 random bits).
    fn id(&self) -> [u8; KEY_ID_BYTES] {
        let mut input = Zeroizing::new(Vec::with_capacity(KEY_ID_CONTEXT.len() + 32));
        input.extend_from_slice(KEY_ID_CONTEXT);
        input.extend_from_slice(&self.0);
        let digest = crypto::sha256(&input);
        let mut id = [0u8; KEY_ID_BYTES];
        id.copy_from_slice(&digest[..KEY_ID_BYTES]);
        id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

/// What a ciphertext is bound to: the purpose (a constant, e.g. `"totp-secret"`) and the
/// record it belongs to (e.g. the user id). Decryption must name the same two.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    purpose: &'static str,
    record: &'a str,
}

impl<'a> Aad<'a> {
    /// Binds a value to `purpose` and `record`.
    pub fn new(purpose: &'static str, record: &'a str) -> Self {
        Aad { purpose, record }
    }

    /// Length-prefixed, so no two (purpose, record) pairs encode alike; the key id is in it
    /// too, so a value cannot be relabelled with another key's id.
    fn encode(&self, key_id: &[u8; KEY_ID_BYTES]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            AAD_CONTEXT.len() + KEY_ID_BYTES + 16 + self.purpose.len() + self.record.len(),
        );
        out.extend_from_slice(AAD_CONTEXT);
        out.extend_from_slice(key_id);
        for part in [self.purpose, self.record] {
            out.extend_from_slice(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// The current data key encrypts; the previous ones still decrypt, so keys rotate without
/// re-encrypting everything at once.
#[derive(Clone, Debug)]
pub struct DataKeyRing {
    current: DataKey,
    previous: Vec<DataKey>,
}

impl DataKeyRing {
    /// A ring that encrypts with `current` and also decrypts what any of `previous` encrypted.
    pub fn new(current: DataKey, previous: Vec<DataKey>) -> Self {
        DataKeyRing { current, previous }
    }

    /// The ring from `AUTHFN_DATA_KEYS`, `None` when the setting is absent (deployments that
    /// use no second factor need no data key). Errors name the rule, never a key.
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        settings
            .get(SETTING)
            .map(|value| Self::parse(&value))
            .transpose()
    }

    /// Comma-separated base64url (unpadded) 32-byte keys, current first: the form of
    /// `AUTHFN_DATA_KEYS`.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let mut keys = crate::settings::split_list(value).into_iter().map(|k| {
            let bytes = Zeroizing::new(crypto::b64url_decode(&k).ok_or_else(|| {
                ConfigError::new(format!("{SETTING} must be base64url without padding"))
            })?);
            DataKey::new(&bytes).map_err(|e| ConfigError::new(format!("{SETTING}: {e}")))
        });
        let current = keys
            .next()
            .ok_or_else(|| ConfigError::new(format!("{SETTING} holds no key")))??;
        let previous = keys.collect::<Result<Vec<_>, _>>()?;
        Ok(DataKeyRing::new(current, previous))
    }

    /// `plaintext` encrypted under the current key with a fresh random nonce, bound to `aad`,
    /// in its stored form. Fails only when the operating system has no randomness.
    pub fn encrypt(&self, aad: Aad<'_>, plaintext: &[u8]) -> Result<String, getrandom::Error> {
        let key_id = self.current.id();
        let nonce: [u8; NONCE_BYTES] = crypto::random_array()?;
        let ciphertext = self
            .current
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad.encode(&key_id),
                },
            )
            .expect(
                "XChaCha20-Poly1305 fails only past 256 GiB of plaintext; secrets here are bytes",
            );
        let mut out = Vec::with_capacity(KEY_ID_BYTES + NONCE_BYTES + ciphertext.len());
        out.extend_from_slice(&key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", crypto::b64url(&out)))
    }

    /// The plaintext of `stored`, if a key of the ring with its id made it for `aad` and it
    /// was not altered; `None` otherwise (an unknown or retired key, another record or purpose,
    /// tampering, a malformed value), with no more detail, as for a forged token.
    pub fn decrypt(&self, aad: Aad<'_>, stored: &str) -> Option<Zeroizing<Vec<u8>>> {
        let raw = crypto::b64url_decode(stored.strip_prefix(PREFIX)?)?;
        if raw.len() < KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES {
            return None;
        }
        let (key_id, rest) = raw.split_at(KEY_ID_BYTES);
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let key_id: [u8; KEY_ID_BYTES] = key_id.try_into().ok()?;
        let aad = aad.encode(&key_id);
        // Every key with that id is tried: two keys of a ring share an id once in 2^32.
        std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|key| key.id() == key_id)
            .find_map(|key| {
                key.cipher()
                    .decrypt(
                        XNonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: &aad,
                        },
                    )
                    .ok()
                    .map(Zeroizing::new)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> DataKey {
        DataKey::new(&[b; 32]).unwrap()
    }

    fn aad(user: &str) -> Aad<'_> {
        Aad::new("totp-secret", user)
    }

    #[test]
    fn a_value_round_trips_under_its_record_and_purpose() {
        let ring = DataKeyRing::new(key(1), vec![]);
        let stored = ring
            .encrypt(aad("user-1"), b"twenty bytes secret!")
            .unwrap();
        assert!(stored.starts_with("v1."));
        assert_eq!(
            ring.decrypt(aad("user-1"), &stored).unwrap().as_slice(),
            b"twenty bytes secret!"
        );
        let empty = ring.encrypt(aad("user-1"), b"").unwrap();
        assert_eq!(ring.decrypt(aad("user-1"), &empty).unwrap().as_slice(), b"");
    }

    #[test]
    fn another_record_or_purpose_does_not_decrypt() {
        let ring = DataKeyRing::new(key(1), vec![]);
        let stored = ring.encrypt(aad("user-1"), b"secret").unwrap();
        assert!(ring.decrypt(aad("user-2"), &stored).is_none());
        assert!(
            ring.decrypt(Aad::new("recovery", "user-1"), &stored)
                .is_none()
        );
        // Length prefixes keep the boundary between purpose and record.
        let split = ring.encrypt(Aad::new("ab", "c"), b"x").unwrap();
        assert!(ring.decrypt(Aad::new("a", "bc"), &split).is_none());
    }

    #[test]
    fn any_altered_byte_fails_to_decrypt() {
        let ring = DataKeyRing::new(key(1), vec![]);
        let stored = ring.encrypt(aad("u"), b"secret").unwrap();
        let raw = crypto::b64url_decode(&stored[3..]).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            assert!(
                ring.decrypt(aad("u"), &format!("v1.{}", crypto::b64url(&bad)))
                    .is_none(),
                "byte {i}"
            );
        }
        assert!(
            ring.decrypt(
                aad("u"),
                &format!("v1.{}", crypto::b64url(&raw[..raw.len() - 1]))
            )
            .is_none()
        );
        assert!(
            ring.decrypt(aad("u"), &format!("v2.{}", &stored[3..]))
                .is_none()
        );
        for junk in ["", "v1.", "v1.!!", "v1.AAAA", &stored[3..]] {
            assert!(ring.decrypt(aad("u"), junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn a_retired_key_still_decrypts_and_only_the_current_one_encrypts() {
        let old = DataKeyRing::new(key(1), vec![]);
        let stored = old.encrypt(aad("u"), b"secret").unwrap();
        let rotated = DataKeyRing::new(key(2), vec![key(1)]);
        assert_eq!(
            rotated.decrypt(aad("u"), &stored).unwrap().as_slice(),
            b"secret"
        );
        let fresh = rotated.encrypt(aad("u"), b"secret").unwrap();
        assert!(
            old.decrypt(aad("u"), &fresh).is_none(),
            "encrypted with the new key"
        );
        assert_eq!(
            DataKeyRing::new(key(2), vec![])
                .decrypt(aad("u"), &fresh)
                .unwrap()
                .as_slice(),
            b"secret"
        );
    }

    #[test]
    fn a_value_under_an_unknown_key_fails_cleanly() {
        let stored = DataKeyRing::new(key(1), vec![])
            .encrypt(aad("u"), b"secret")
            .unwrap();
        assert!(
            DataKeyRing::new(key(2), vec![key(3)])
                .decrypt(aad("u"), &stored)
                .is_none()
        );
    }

    #[test]
    fn the_key_id_cannot_be_swapped_for_another_keys() {
        // Relabelling a value with another ring key's id makes that key try it, and fail.
        let ring = DataKeyRing::new(key(2), vec![key(1)]);
        let stored = DataKeyRing::new(key(1), vec![])
            .encrypt(aad("u"), b"secret")
            .unwrap();
        let mut raw = crypto::b64url_decode(&stored[3..]).unwrap();
        raw[..KEY_ID_BYTES].copy_from_slice(&key(2).id());
        assert!(
            ring.decrypt(aad("u"), &format!("v1.{}", crypto::b64url(&raw)))
                .is_none()
        );
    }

    #[test]
    fn encrypting_the_same_value_twice_never_gives_the_same_text() {
        let ring = DataKeyRing::new(key(1), vec![]);
        let values: std::collections::HashSet<String> = (0..64)
            .map(|_| ring.encrypt(aad("u"), b"same").unwrap())
            .collect();
        assert_eq!(values.len(), 64);
        let nonces: std::collections::HashSet<Vec<u8>> = values
            .iter()
            .map(|v| {
                crypto::b64url_decode(&v[3..]).unwrap()[KEY_ID_BYTES..KEY_ID_BYTES + NONCE_BYTES]
                    .to_vec()
            })
            .collect();
        assert_eq!(nonces.len(), 64);
    }

    #[test]
    fn the_setting_is_optional_and_checked_without_echoing_keys() {
        let parse = |value: Option<&str>| {
            let value = value.map(str::to_owned);
            let lookup = move |name: &str| (name == SETTING).then(|| value.clone()).flatten();
            DataKeyRing::from_settings(&Settings::new(&lookup))
        };
        assert!(parse(None).unwrap().is_none());
        assert!(parse(Some("  ")).unwrap().is_none());
        let k1 = crypto::b64url(&[1; 32]);
        let k2 = crypto::b64url(&[2; 32]);
        let ring = parse(Some(&format!("{k2}, {k1}"))).unwrap().unwrap();
        let stored = DataKeyRing::new(key(1), vec![])
            .encrypt(aad("u"), b"s")
            .unwrap();
        assert!(
            ring.decrypt(aad("u"), &stored).is_some(),
            "the second key is a previous key"
        );
        let short = crypto::b64url(&[1; 31]);
        let err = parse(Some(&short)).unwrap_err().to_string();
        assert!(err.contains("32 bytes") && !err.contains(&short), "{err}");
        let err = parse(Some("not base64!")).unwrap_err().to_string();
        assert!(
            err.contains("base64url") && !err.contains("not base64"),
            "{err}"
        );
        assert!(parse(Some(",")).is_err());
        assert!(parse(Some(&format!("{k1},{}", crypto::b64url(&[1; 33])))).is_err());
    }

    #[test]
    fn debug_never_shows_a_key() {
        let ring = DataKeyRing::new(key(1), vec![key(2)]);
        let shown = format!("{ring:?}");
        assert!(shown.contains("DataKey([redacted])"), "{shown}");
    }

    #[test]
    fn a_generated_key_encrypts_a_totp_secret() {
        let ring = DataKeyRing::new(DataKey::generate().unwrap(), vec![]);
        let secret = crate::totp::TotpSecret::generate().unwrap();
        let stored = ring.encrypt(aad("u"), secret.secret()).unwrap();
        let back =
            crate::totp::TotpSecret::from_bytes(&ring.decrypt(aad("u"), &stored).unwrap()).unwrap();
        assert!(back.ct_eq(&secret));
    }
}
