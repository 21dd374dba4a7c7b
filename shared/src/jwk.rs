//! JSON Web Key Sets (RFC 7517) as a verifier reads them: an identity provider's published
//! keys, or an issuer's, kept as the public signature keys among them.
//!
//! Written here rather than taken from `jsonwebtoken`, whose JWK types model every member of
//! RFC 7517 and 7518 (certificate chains, private and symmetric keys, every algorithm name):
//! deserialising them was 53 KB of the Worker's code, for the six members a signature key
//! needs (README, "Size and cold start"). Like `jsonwebtoken`, a set is read whatever else it
//! holds: a key of a type, curve or use this reader cannot verify with is skipped (RFC 7517
//! §5), and unlike it, a key published for encryption (`use`, `key_ops`) is never used to
//! verify a signature (§4.2, §4.3).

use serde::Deserialize;

use crate::crypto::b64url_decode;
use crate::signature::{Algorithm, PublicKey, RsaPublicKey};

/// The signature keys of a published key set, in the set's order.
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

/// One usable signature key of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`: how a token names the key that signed it.
    pub kid: Option<String>,
    /// `alg`, when the key is restricted to one algorithm (RFC 7517 §4.4).
    alg: Option<String>,
    /// The key itself.
    pub key: PublicKey,
}

impl JwkSet {
    /// The key with this `kid`: the first, should a set repeat one.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }
}

impl Jwk {
    /// Whether this key may verify an `alg` signature: its type fits `alg`, and so does its
    /// own `alg` when it names one (a key published for RS256 does not verify PS256).
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.key.fits(alg) && self.alg.as_deref().is_none_or(|own| own == alg.jws_name())
    }
}

impl<'de> Deserialize<'de> for JwkSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Each key is read on its own, so that one this reader cannot use (another member of
        // another type, say) is skipped rather than failing the set.
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set = Set::deserialize(deserializer)?;
        let keys = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Members>(value).ok()?.usable())
            .collect();
        Ok(JwkSet { keys })
    }
}

/// The members of a JWK that a signature key uses (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
#[derive(Deserialize)]
struct Members {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
}

impl Members {
    /// The key, when it is a public signature key of a type authfn verifies: `None` for an
    /// encryption key (`use`, `key_ops`), a symmetric or private key, an unknown type or
    /// curve, or a parameter of the wrong size.
    fn usable(self) -> Option<Jwk> {
        let for_signatures = self.use_.as_deref().is_none_or(|u| u == "sig")
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
        if !for_signatures {
            return None;
        }
        let key = public_key(&self)?;
        Some(Jwk {
            kid: self.kid,
            alg: self.alg,
            key,
        })
    }
}

fn public_key(m: &Members) -> Option<PublicKey> {
    fn fixed<const N: usize>(text: Option<&String>) -> Option<[u8; N]> {
        b64url_decode(text?)?.try_into().ok()
    }
    match (m.kty.as_str(), m.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => Some(PublicKey::Ed25519(fixed(m.x.as_ref())?)),
        ("EC", Some("P-256")) => Some(PublicKey::P256 {
            x: fixed(m.x.as_ref())?,
            y: fixed(m.y.as_ref())?,
        }),
        ("EC", Some("P-384")) => Some(PublicKey::P384 {
            x: fixed(m.x.as_ref())?,
            y: fixed(m.y.as_ref())?,
        }),
        ("RSA", _) => Some(PublicKey::Rsa(RsaPublicKey::new(
            &b64url_decode(m.n.as_ref()?)?,
            &b64url_decode(m.e.as_ref()?)?,
        )?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::crypto::b64url;

    fn set(keys: serde_json::Value) -> JwkSet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn each_key_type_reads_as_the_key_it_describes() {
        let x = b64url(&[1; 32]);
        let keys = set(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed"},
            {"kty": "EC", "crv": "P-256", "x": x, "y": b64url(&[2; 32]), "kid": "p256"},
            {"kty": "EC", "crv": "P-384", "x": b64url(&[3; 48]), "y": b64url(&[4; 48]), "kid": "p384"},
            {"kty": "RSA", "n": b64url(&[0, 0, 0x80, 1]), "e": "AQAB", "kid": "rsa"},
        ]));
        assert_eq!(keys.find("ed").unwrap().key, PublicKey::Ed25519([1; 32]));
        assert_eq!(
            keys.find("p256").unwrap().key,
            PublicKey::P256 {
                x: [1; 32],
                y: [2; 32]
            }
        );
        assert_eq!(
            keys.find("p384").unwrap().key,
            PublicKey::P384 {
                x: [3; 48],
                y: [4; 48]
            }
        );
        let PublicKey::Rsa(rsa) = &keys.find("rsa").unwrap().key else {
            panic!("an RSA key");
        };
        assert_eq!(
            (rsa.n(), rsa.bits()),
            (&[0x80, 1][..], 16),
            "leading zeros dropped"
        );
    }

    #[test]
    fn keys_it_cannot_verify_with_are_skipped_and_the_rest_kept() {
        let x = b64url(&[1; 32]);
        let keys = set(json!([
            {"kty": "oct", "k": x, "kid": "secret"},
            {"kty": "EC", "crv": "P-256", "x": x, "y": b64url(&[1; 31]), "kid": "short"},
            {"kty": "EC", "crv": "secp256k1", "x": x, "y": x, "kid": "curve"},
            {"kty": "OKP", "crv": "X25519", "x": x, "kid": "ecdh"},
            {"kty": "RSA", "n": b64url(&[0x80, 1]), "e": "AQAB", "use": "enc", "alg": "RSA-OAEP", "kid": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "key_ops": ["encrypt"], "kid": "ops"},
            {"kty": "QUANTUM", "kid": "unknown"},
            {"kid": "no-kty"},
            "not an object",
            {"kty": "OKP", "crv": "Ed25519", "x": x, "use": "sig", "key_ops": ["verify"], "kid": "good"},
        ]));
        let kids: Vec<_> = keys.keys().iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("good")]);
    }

    #[test]
    fn a_set_without_keys_is_refused() {
        assert!(serde_json::from_value::<JwkSet>(json!({})).is_err());
        assert!(serde_json::from_value::<JwkSet>(json!({"keys": {}})).is_err());
    }

    #[test]
    fn a_key_restricted_to_one_algorithm_allows_only_that_one() {
        let rsa = |alg: Option<&str>| Members {
            kty: "RSA".into(),
            crv: None,
            x: None,
            y: None,
            n: Some(b64url(&[0x80, 1])),
            e: Some("AQAB".into()),
            kid: None,
            alg: alg.map(Into::into),
            use_: None,
            key_ops: None,
        };
        let pinned = rsa(Some("RS256")).usable().unwrap();
        assert!(pinned.allows(Algorithm::Rs256));
        assert!(!pinned.allows(Algorithm::Ps256));
        let open = rsa(None).usable().unwrap();
        assert!(open.allows(Algorithm::Rs512) && open.allows(Algorithm::Ps256));
        assert!(!open.allows(Algorithm::Es256), "not an RSA algorithm");
    }
}
