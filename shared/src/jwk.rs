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
        let keys = set.keys.iter().filter_map(usable).collect();
        Ok(JwkSet { keys })
    }
}

/// A key of a set as a public signature key of a type authfn verifies, or `None`: an
/// encryption key (`use`, `key_ops`), a symmetric or private key, an unknown type or curve, a
/// parameter of the wrong size, or a member of the wrong JSON type. Its members are read from
/// the parsed value by hand, not by a derived `Deserialize` over it: the set's values are
/// already parsed, and a second deserializer for them was 5 KB of the Worker.
fn usable(key: &serde_json::Value) -> Option<Jwk> {
    let key = key.as_object()?;
    let text = |name: &str| match key.get(name) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(serde_json::Value::String(text)) => Some(Some(text.as_str())),
        Some(_) => None,
    };
    // RFC 7517 §4.2 and §4.3: a key for encryption never verifies a signature.
    if text("use")?.is_some_and(|u| u != "sig") {
        return None;
    }
    match key.get("key_ops") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(ops)) => {
            let ops: Vec<&str> = ops
                .iter()
                .map(serde_json::Value::as_str)
                .collect::<Option<_>>()?;
            if !ops.contains(&"verify") {
                return None;
            }
        }
        Some(_) => return None,
    }
    fn fixed<const N: usize>(text: Option<&str>) -> Option<[u8; N]> {
        b64url_decode(text?)?.try_into().ok()
    }
    let (x, y) = (text("x")?, text("y")?);
    let key_type = match (text("kty")?, text("crv")?) {
        (Some("OKP"), Some("Ed25519")) => PublicKey::Ed25519(fixed(x)?),
        (Some("EC"), Some("P-256")) => PublicKey::P256 {
            x: fixed(x)?,
            y: fixed(y)?,
        },
        (Some("EC"), Some("P-384")) => PublicKey::P384 {
            x: fixed(x)?,
            y: fixed(y)?,
        },
        (Some("RSA"), _) => PublicKey::Rsa(RsaPublicKey::new(
            &b64url_decode(text("n")??)?,
            &b64url_decode(text("e")??)?,
        )?),
        _ => return None,
    };
    Some(Jwk {
        kid: text("kid")?.map(str::to_owned),
        alg: text("alg")?.map(str::to_owned),
        key: key_type,
    })
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
            {"kty": "OKP", "crv": "Ed25519", "x": x, "alg": 5, "kid": "typed"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "key_ops": "verify", "kid": "ops-text"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "key_ops": ["verify", 1], "kid": "ops-number"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "use": "sig", "key_ops": ["verify"], "kid": "good"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "use": null, "alg": null, "kid": "nulls"},
        ]));
        let kids: Vec<_> = keys.keys().iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("good"), Some("nulls")]);
    }

    #[test]
    fn a_set_without_keys_is_refused() {
        assert!(serde_json::from_value::<JwkSet>(json!({})).is_err());
        assert!(serde_json::from_value::<JwkSet>(json!({"keys": {}})).is_err());
    }

    #[test]
    fn a_key_restricted_to_one_algorithm_allows_only_that_one() {
        let rsa = |alg: Option<&str>| json!({ "kty": "RSA", "n": b64url(&[0x80, 1]), "e": "AQAB", "alg": alg });
        let pinned = usable(&rsa(Some("RS256"))).unwrap();
        assert!(pinned.allows(Algorithm::Rs256));
        assert!(!pinned.allows(Algorithm::Ps256));
        let open = usable(&rsa(None)).unwrap();
        assert!(open.allows(Algorithm::Rs512) && open.allows(Algorithm::Ps256));
        assert!(!open.allows(Algorithm::Es256), "not an RSA algorithm");
    }
}
