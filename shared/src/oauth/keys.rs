//! The Ed25519 keys that sign access tokens, and the JWKS that publishes their public halves.
//!
//! `AUTHFN_JWT_KEYS` holds comma-separated base64url 32-byte Ed25519 seeds, the signing key
//! first; the others are previous keys, still published so tokens they signed verify until
//! they expire. A key's `kid` is derived from its public key, so it needs no bookkeeping.
//!
//! `AUTHFN_JWT_PUBLIC_KEYS` holds the same keys' public halves, in the same order
//! (`infra/generate-keys.sh --public "$AUTHFN_JWT_KEYS"`): all that a function which only
//! publishes or checks keys needs, so the seeds stay with the functions that sign.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::crypto::{b64url, b64url_decode, sha256};

#[derive(Clone)]
pub struct JwtKey {
    kid: String,
    /// The public key, base64url (the JWK's `x`).
    x: String,
    /// `None` when only the public key was given: such a key verifies and is published, never signs.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKey({})", self.kid)
    }
}

impl JwtKey {
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, String> {
        let signing = SigningKey::from_bytes(&seed);
        let der = signing.to_pkcs8_der().map_err(|e| format!("Ed25519 key: {e}"))?;
        let mut key = Self::from_public(signing.verifying_key().to_bytes())?;
        key.encoding = Some(EncodingKey::from_ed_der(der.as_bytes()));
        Ok(key)
    }

    /// A key that verifies and is published, but cannot sign.
    pub fn from_public(public: [u8; 32]) -> Result<Self, String> {
        ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| "not an Ed25519 public key".to_owned())?;
        let x = b64url(&public);
        Ok(JwtKey {
            kid: b64url(&sha256(&public)[..12]),
            encoding: None,
            decoding: DecodingKey::from_ed_components(&x).map_err(|e| format!("Ed25519 key: {e}"))?,
            x,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key, or an error naming the missing setting: a function given only the
    /// public keys must never get as far as signing with nothing.
    pub(crate) fn encoding(&self) -> Result<&EncodingKey, String> {
        self.encoding.as_ref().ok_or_else(|| {
            "this function has only AUTHFN_JWT_PUBLIC_KEYS; signing needs AUTHFN_JWT_KEYS".to_owned()
        })
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK (RFC 8037).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": "EdDSA", "use": "sig" })
    }
}

/// The signing key and the previous keys that still verify.
#[derive(Debug, Clone)]
pub struct JwtKeys {
    current: JwtKey,
    previous: Vec<JwtKey>,
}

impl JwtKeys {
    /// Parses `AUTHFN_JWT_KEYS`.
    pub fn parse(value: &str) -> Result<Self, String> {
        Self::parse_with(value, "AUTHFN_JWT_KEYS", "Ed25519 seeds (infra/generate-keys.sh)", JwtKey::from_seed)
    }

    /// Parses `AUTHFN_JWT_PUBLIC_KEYS`: keys that verify and are published, but never sign.
    pub fn parse_public(value: &str) -> Result<Self, String> {
        let what = "Ed25519 public keys (infra/generate-keys.sh --public)";
        Self::parse_with(value, "AUTHFN_JWT_PUBLIC_KEYS", what, JwtKey::from_public)
    }

    fn parse_with(value: &str, name: &str, what: &str, key: fn([u8; 32]) -> Result<JwtKey, String>) -> Result<Self, String> {
        let mut keys = value.split(',').map(str::trim).filter(|k| !k.is_empty()).map(|k| {
            let bytes: [u8; 32] = b64url_decode(k)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("{name} must be base64url 32-byte {what}"))?;
            key(bytes).map_err(|e| format!("{name}: {e}"))
        });
        let current = keys.next().ok_or_else(|| format!("{name} is empty"))??;
        let previous = keys.collect::<Result<Vec<_>, _>>()?;
        Ok(JwtKeys { current, previous })
    }

    /// Whether the current key can sign (it was given as a seed, not as a public key).
    pub fn can_sign(&self) -> bool {
        self.current.encoding.is_some()
    }

    /// The `kid`s of every key, the signing key first.
    pub fn kids(&self) -> Vec<&str> {
        std::iter::once(&self.current).chain(&self.previous).map(JwtKey::kid).collect()
    }

    pub fn current(&self) -> &JwtKey {
        &self.current
    }

    pub fn find(&self, kid: &str) -> Option<&JwtKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|k| k.kid == kid)
    }

    /// `GET /.well-known/jwks.json`: every key that may have signed a live token.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = std::iter::once(&self.current).chain(&self.previous).map(JwtKey::public_jwk).collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(b: u8) -> String {
        b64url(&[b; 32])
    }

    #[test]
    fn previous_keys_are_published_and_found_but_do_not_sign() {
        let keys = JwtKeys::parse(&format!("{},{}", seed(1), seed(2))).unwrap();
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(jwks["keys"][0]["kid"], keys.current().kid());
        let old_kid = jwks["keys"][1]["kid"].as_str().unwrap();
        assert!(keys.find(old_kid).is_some());
        assert_ne!(old_kid, keys.current().kid());
        assert!(jwks.to_string().find("\"d\"").is_none(), "no private part in the JWKS");
    }

    #[test]
    fn public_keys_publish_what_their_seeds_do_but_cannot_sign() {
        let seeds = JwtKeys::parse(&format!("{},{}", seed(1), seed(2))).unwrap();
        let public: Vec<String> = seeds.jwks()["keys"].as_array().unwrap().iter().map(|k| k["x"].as_str().unwrap().to_owned()).collect();
        let published = JwtKeys::parse_public(&public.join(",")).unwrap();
        assert_eq!(published.jwks(), seeds.jwks());
        assert!(seeds.can_sign());
        assert!(!published.can_sign());
        let err = published.current().encoding().err().unwrap();
        assert!(err.contains("AUTHFN_JWT_KEYS"), "{err}");
        assert!(JwtKeys::parse_public(&seed(1)).is_ok_and(|k| k.kids() != seeds.kids()), "a seed is not its own public key");
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(JwtKeys::parse("").is_err());
        assert!(JwtKeys::parse("short").is_err());
        assert!(JwtKeys::parse(&b64url(&[0; 31])).is_err());
    }
}
