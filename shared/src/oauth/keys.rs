//! The keys that sign access and ID tokens, and the JWKS that publishes their public halves.
//!
//! `AUTHFN_JWT_KEYS` holds comma-separated base64url 32-byte Ed25519 seeds, the signing key
//! first; the others are previous keys, still published so tokens they signed verify until
//! they expire. A key's `kid` is derived from its public key, so it needs no bookkeeping.
//!
//! `AUTHFN_JWT_RSA_KEY` (optional, same list shape) holds base64url PKCS#1 DER RSA private
//! keys of at least 2048 bits (`infra/generate-keys.sh --rsa`). With one, ID tokens are signed
//! RS256, the one algorithm every OpenID Connect client must accept (OIDC Discovery §3);
//! access tokens stay EdDSA, which only our own verifiers read.

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

/// An RSA key that signs ID tokens (RS256).
#[derive(Clone)]
pub struct RsaJwtKey {
    kid: String,
    /// The public modulus and exponent, base64url (the JWK's `n` and `e`).
    n: String,
    e: String,
    encoding: EncodingKey,
}

impl std::fmt::Debug for RsaJwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaJwtKey({})", self.kid)
    }
}

impl RsaJwtKey {
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| format!("AUTHFN_JWT_RSA_KEY: not a PKCS#1 RSA private key: {e}"))?;
        if key.n().bits() < 2048 {
            return Err("AUTHFN_JWT_RSA_KEY: RSA keys must have at least 2048 bits".into());
        }
        let n = key.n().to_bytes_be();
        Ok(RsaJwtKey {
            kid: b64url(&sha256(&n)[..12]),
            n: b64url(&n),
            e: b64url(&key.e().to_bytes_be()),
            encoding: EncodingKey::from_rsa_der(der),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The public key as a JWK (RFC 7518 §6.3).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "RSA", "n": self.n, "e": self.e, "kid": self.kid, "alg": "RS256", "use": "sig" })
    }
}

/// The signing key and the previous keys that still verify.
#[derive(Debug, Clone)]
pub struct JwtKeys {
    current: JwtKey,
    previous: Vec<JwtKey>,
    /// RS256 keys for ID tokens, signing key first; empty when none are configured.
    rsa: Vec<RsaJwtKey>,
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
        Ok(JwtKeys { current, previous, rsa: Vec::new() })
    }

    /// Adds the RS256 ID-token keys of `AUTHFN_JWT_RSA_KEY`, signing key first.
    pub fn with_rsa(mut self, value: &str) -> Result<Self, String> {
        self.rsa = value
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                let der = b64url_decode(k).ok_or("AUTHFN_JWT_RSA_KEY must be base64url PKCS#1 DER (infra/generate-keys.sh --rsa)")?;
                RsaJwtKey::from_pkcs1_der(&der)
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// The key ID tokens are signed with, when RS256 is configured.
    pub fn id_token_rsa(&self) -> Option<&RsaJwtKey> {
        self.rsa.first()
    }

    /// The `id_token_signing_alg_values_supported` of discovery.
    pub fn id_token_algs(&self) -> &'static [&'static str] {
        if self.rsa.is_empty() { &["EdDSA"] } else { &["RS256", "EdDSA"] }
    }

    pub fn current(&self) -> &JwtKey {
        &self.current
    }

    pub fn find(&self, kid: &str) -> Option<&JwtKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|k| k.kid == kid)
    }

    /// `GET /.well-known/jwks.json`: every key that may have signed a live token.
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<_> = std::iter::once(&self.current).chain(&self.previous).map(JwtKey::public_jwk).collect();
        keys.extend(self.rsa.iter().map(RsaJwtKey::public_jwk));
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
