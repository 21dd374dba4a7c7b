//! The keys that sign access and ID tokens, and the JWKS that publishes their public halves.
//!
//! `AUTHFN_JWT_KEYS` holds comma-separated base64url 32-byte Ed25519 seeds, the signing key
//! first; the others are previous keys, still published so tokens they signed verify until
//! they expire. A key's `kid` is derived from its public key, so it needs no bookkeeping.
//!
//! `AUTHFN_JWT_PUBLIC_KEYS` holds the same keys' public halves, in the same order
//! (`infra/generate-keys.sh --public "$AUTHFN_JWT_KEYS"`): all that a function which only
//! publishes or checks keys needs, so the seeds stay with the functions that sign.
//!
//! `AUTHFN_JWT_RSA_KEY` (optional, same list shape) holds base64url PKCS#1 DER RSA private
//! keys of at least 2048 bits (`infra/generate-keys.sh --rsa`). With one, ID tokens are signed
//! RS256, the one algorithm every OpenID Connect client must accept (OIDC Discovery §3);
//! access tokens stay EdDSA, which only our own verifiers read.

use crate::crypto::{b64url, b64url_decode, sha256};
use crate::settings::split_list;
use crate::signature::{Ed25519Seed, PublicKey, RsaPrivateKeyDer, RsaPublicKey, SigningKey};

/// An Ed25519 key that signs access tokens (EdDSA), or only verifies them; its `kid` is derived
/// from the public key.
#[derive(Clone)]
pub struct JwtKey {
    kid: String,
    public: [u8; 32],
    /// `None` when only the public key was given: such a key verifies and is published, never signs.
    signing: Option<SigningKey>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKey({})", self.kid)
    }
}

impl JwtKey {
    /// A key that signs, verifies and is published, from its private seed.
    pub fn from_seed(seed: &Ed25519Seed) -> Result<Self, String> {
        // The public half is derived once, for the kid and for the signing key alike.
        let public = seed.public_key()?;
        Ok(JwtKey {
            signing: Some(SigningKey::Ed25519 {
                seed: seed.clone(),
                public,
            }),
            ..Self::of_point(public)
        })
    }

    /// A key that verifies and is published, but cannot sign.
    pub fn from_public(public: [u8; 32]) -> Result<Self, String> {
        // Checked here, where a configuration error is reported, rather than at first use.
        // The Worker takes these keys only beside their seeds, and only when they are the
        // halves it derives (oauth/config.rs): it needs no curve arithmetic to check them.
        #[cfg(not(target_arch = "wasm32"))]
        ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| "not an Ed25519 public key".to_owned())?;
        Ok(Self::of_point(public))
    }

    /// The key of a public half known to be a point on the curve.
    fn of_point(public: [u8; 32]) -> Self {
        JwtKey {
            kid: b64url(&sha256(&public)[..12]),
            public,
            signing: None,
        }
    }

    /// The key id that token headers and the JWKS name the key by.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key, or an error naming the missing setting: a function given only the
    /// public keys must never get as far as signing with nothing.
    pub(crate) fn signing(&self) -> Result<&SigningKey, String> {
        self.signing.as_ref().ok_or_else(|| {
            "this function has only AUTHFN_JWT_PUBLIC_KEYS; signing needs AUTHFN_JWT_KEYS"
                .to_owned()
        })
    }

    /// The public key, which verifies what this key signed.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.public)
    }

    /// The public key as a JWK (RFC 8037).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": b64url(&self.public), "kid": self.kid, "alg": "EdDSA", "use": "sig" })
    }
}

/// The smallest RSA modulus accepted for signing ID tokens.
const MIN_RSA_BITS: usize = 2048;

/// An RSA key that signs ID tokens (RS256).
#[derive(Clone)]
pub struct RsaJwtKey {
    kid: String,
    public: RsaPublicKey,
    /// `None` when only the public key was given (`AUTHFN_JWT_RSA_PUBLIC_KEY`).
    signing: Option<SigningKey>,
}

impl std::fmt::Debug for RsaJwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaJwtKey({})", self.kid)
    }
}

impl RsaJwtKey {
    /// A key that signs and is published, from PKCS#1 DER; refused under 2048 bits.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let (private, public) = RsaPrivateKeyDer::from_pkcs1_der(der.to_vec())
            .map_err(|e| format!("AUTHFN_JWT_RSA_KEY: {e}"))?;
        let mut key = Self::new(public, "AUTHFN_JWT_RSA_KEY")?;
        key.signing = Some(SigningKey::Rsa(private));
        Ok(key)
    }

    /// A key that is published but never signs, from its base64url PKCS#1 DER public key.
    pub fn from_public_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let public = RsaPublicKey::from_pkcs1_der(der)
            .ok_or("AUTHFN_JWT_RSA_PUBLIC_KEY: not a PKCS#1 RSA public key")?;
        Self::new(public, "AUTHFN_JWT_RSA_PUBLIC_KEY")
    }

    fn new(public: RsaPublicKey, setting: &str) -> Result<Self, String> {
        if public.bits() < MIN_RSA_BITS {
            return Err(format!(
                "{setting}: RSA keys must have at least {MIN_RSA_BITS} bits"
            ));
        }
        Ok(RsaJwtKey {
            kid: b64url(&sha256(public.n())[..12]),
            public,
            signing: None,
        })
    }

    /// The key id that ID token headers and the JWKS name the key by.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn signing(&self) -> Result<&SigningKey, String> {
        self.signing.as_ref().ok_or_else(|| {
            "this function has only AUTHFN_JWT_RSA_PUBLIC_KEY; signing needs AUTHFN_JWT_RSA_KEY"
                .to_owned()
        })
    }

    /// The public key as a JWK (RFC 7518 §6.3).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "RSA", "n": b64url(self.public.n()), "e": b64url(self.public.e()), "kid": self.kid, "alg": "RS256", "use": "sig" })
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

/// One entry of a key list: 32 bytes in base64url.
fn key_bytes(entry: &str) -> Option<[u8; 32]> {
    b64url_decode(entry)?.try_into().ok()
}

impl JwtKeys {
    /// Parses `AUTHFN_JWT_KEYS`.
    pub fn parse(value: &str) -> Result<Self, String> {
        Self::parse_with(
            value,
            "AUTHFN_JWT_KEYS",
            "Ed25519 seeds (infra/generate-keys.sh)",
            |seed| JwtKey::from_seed(&Ed25519Seed::new(seed)),
        )
    }

    /// The seeds of `AUTHFN_JWT_KEYS` that decode, for the Worker to derive their public keys
    /// before the configuration is read ([`crate::signature::derive_public_keys`]); an entry
    /// that does not is left for [`JwtKeys::parse`] to report.
    #[cfg(target_arch = "wasm32")]
    pub fn seeds(value: &str) -> Vec<Ed25519Seed> {
        split_list(value)
            .into_iter()
            .filter_map(|k| key_bytes(&k))
            .map(Ed25519Seed::new)
            .collect()
    }

    /// Parses `AUTHFN_JWT_PUBLIC_KEYS`: keys that verify and are published, but never sign.
    pub fn parse_public(value: &str) -> Result<Self, String> {
        let what = "Ed25519 public keys (infra/generate-keys.sh --public)";
        Self::parse_with(value, "AUTHFN_JWT_PUBLIC_KEYS", what, JwtKey::from_public)
    }

    fn parse_with(
        value: &str,
        name: &str,
        what: &str,
        key: fn([u8; 32]) -> Result<JwtKey, String>,
    ) -> Result<Self, String> {
        let mut keys = split_list(value).into_iter().map(|k| {
            let bytes =
                key_bytes(&k).ok_or_else(|| format!("{name} must be base64url 32-byte {what}"))?;
            key(bytes).map_err(|e| format!("{name}: {e}"))
        });
        let current = keys.next().ok_or_else(|| format!("{name} is empty"))??;
        let previous = keys.collect::<Result<Vec<_>, _>>()?;
        Ok(JwtKeys {
            current,
            previous,
            rsa: Vec::new(),
        })
    }

    /// Adds the RS256 ID-token keys of `AUTHFN_JWT_RSA_KEY`, signing key first.
    pub fn with_rsa(self, value: &str) -> Result<Self, String> {
        let what = "AUTHFN_JWT_RSA_KEY must be base64url PKCS#1 DER (infra/generate-keys.sh --rsa)";
        self.with_rsa_keys(value, what, RsaJwtKey::from_pkcs1_der)
    }

    /// Adds the public halves of those keys (`AUTHFN_JWT_RSA_PUBLIC_KEY`): published, never signing.
    pub fn with_rsa_public(self, value: &str) -> Result<Self, String> {
        let what = "AUTHFN_JWT_RSA_PUBLIC_KEY must be base64url PKCS#1 DER (infra/generate-keys.sh --rsa-public)";
        self.with_rsa_keys(value, what, RsaJwtKey::from_public_pkcs1_der)
    }

    fn with_rsa_keys(
        mut self,
        value: &str,
        what: &str,
        key: fn(&[u8]) -> Result<RsaJwtKey, String>,
    ) -> Result<Self, String> {
        self.rsa = split_list(value)
            .into_iter()
            .map(|k| key(&b64url_decode(&k).ok_or(what)?))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// The `kid`s of the RS256 keys, the signing key first.
    pub fn rsa_kids(&self) -> Vec<&str> {
        self.rsa.iter().map(RsaJwtKey::kid).collect()
    }

    /// The key ID tokens are signed with, when RS256 is configured.
    pub fn id_token_rsa(&self) -> Option<&RsaJwtKey> {
        self.rsa.first()
    }

    /// The `id_token_signing_alg_values_supported` of discovery.
    pub fn id_token_algs(&self) -> &'static [&'static str] {
        if self.rsa.is_empty() {
            &["EdDSA"]
        } else {
            &["RS256", "EdDSA"]
        }
    }

    /// Whether the current key can sign (it was given as a seed, not as a public key).
    pub fn can_sign(&self) -> bool {
        self.current.signing.is_some()
    }

    /// The `kid`s of every key, the signing key first.
    pub fn kids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(JwtKey::kid)
            .collect()
    }

    /// The key that signs new access tokens.
    pub fn current(&self) -> &JwtKey {
        &self.current
    }

    /// The key named `kid`, current or previous.
    pub fn find(&self, kid: &str) -> Option<&JwtKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }

    /// `GET /.well-known/jwks.json`: every key that may have signed a live token.
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<_> = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(JwtKey::public_jwk)
            .collect();
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
        assert!(
            jwks.to_string().find("\"d\"").is_none(),
            "no private part in the JWKS"
        );
    }

    #[test]
    fn public_keys_publish_what_their_seeds_do_but_cannot_sign() {
        let seeds = JwtKeys::parse(&format!("{},{}", seed(1), seed(2))).unwrap();
        let public: Vec<String> = seeds.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["x"].as_str().unwrap().to_owned())
            .collect();
        let published = JwtKeys::parse_public(&public.join(",")).unwrap();
        assert_eq!(published.jwks(), seeds.jwks());
        assert!(seeds.can_sign());
        assert!(!published.can_sign());
        let err = published.current().signing().err().unwrap();
        assert!(err.contains("AUTHFN_JWT_KEYS"), "{err}");
        assert!(
            JwtKeys::parse_public(&seed(1)).is_ok_and(|k| k.kids() != seeds.kids()),
            "a seed is not its own public key"
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(JwtKeys::parse("").is_err());
        assert!(JwtKeys::parse("short").is_err());
        assert!(JwtKeys::parse(&b64url(&[0; 31])).is_err());
    }
}
