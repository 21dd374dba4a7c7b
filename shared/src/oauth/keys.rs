//! The Ed25519 keys that sign access tokens, and the JWKS that publishes their public halves.
//!
//! `AUTHFN_JWT_KEYS` holds comma-separated base64url 32-byte Ed25519 seeds, the signing key
//! first; the others are previous keys, still published so tokens they signed verify until
//! they expire. A key's `kid` is derived from its public key, so it needs no bookkeeping.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::crypto::{b64url, b64url_decode, sha256};

#[derive(Clone)]
pub struct JwtKey {
    kid: String,
    /// The public key, base64url (the JWK's `x`).
    x: String,
    encoding: EncodingKey,
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
        let public = signing.verifying_key().to_bytes();
        let der = signing.to_pkcs8_der().map_err(|e| format!("Ed25519 key: {e}"))?;
        let x = b64url(&public);
        Ok(JwtKey {
            kid: b64url(&sha256(&public)[..12]),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_components(&x).map_err(|e| format!("Ed25519 key: {e}"))?,
            x,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
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
        let mut keys = value.split(',').map(str::trim).filter(|k| !k.is_empty()).map(|k| {
            let seed: [u8; 32] = b64url_decode(k)
                .and_then(|b| b.try_into().ok())
                .ok_or("AUTHFN_JWT_KEYS must be base64url 32-byte Ed25519 seeds (infra/generate-keys.sh)")?;
            JwtKey::from_seed(seed)
        });
        let current = keys.next().ok_or("AUTHFN_JWT_KEYS is empty")??;
        let previous = keys.collect::<Result<Vec<_>, _>>()?;
        Ok(JwtKeys { current, previous })
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
    fn malformed_keys_are_refused() {
        assert!(JwtKeys::parse("").is_err());
        assert!(JwtKeys::parse("short").is_err());
        assert!(JwtKeys::parse(&b64url(&[0; 31])).is_err());
    }
}
