//! JSON Web Signatures in compact form (RFC 7515 §7.1): every JWT authfn signs or reads.
//!
//! Written here rather than taken from `jsonwebtoken` because the signature itself must be
//! able to come from WebCrypto, which is async, and that crate's signers and verifiers are
//! not: on Workers the curve and RSA arithmetic would otherwise be linked into the wasm.
//! What is left is small: three base64url segments, a header, and a signature over the
//! first two ([`crate::signature`] makes and checks it). Claims are each caller's to check
//! (`oauth::access_token`, `federation::id_token`), once a token has verified: the only way
//! to its claims is [`Verified::claims`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::crypto::{b64url, b64url_decode};
use crate::signature::{Algorithm, PublicKey, SignError, SigningKey};

/// A JOSE header: the members authfn writes or reads. Others are ignored, as RFC 7515 §4
/// allows, except `crit`, whose presence a reader refuses (it understands no extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The signature algorithm's JWS name, as written (so an unknown one can be refused by name).
    pub alg: String,
    /// The signing key's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The token's media type (`at+jwt` for access tokens, RFC 9068).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Extensions the reader must understand.
    #[serde(default, skip_serializing)]
    pub crit: Option<serde_json::Value>,
}

impl Header {
    /// The algorithm `alg` names; `None` for `none`, HMAC or anything unknown.
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::from_jws(&self.alg)
    }
}

/// Why a token could not even be read. Fixed phrases, never the token's own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(&'static str);

/// A compact JWS, split and its header read, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    header: Header,
    signing_input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
}

/// A token whose signature verified, and whose claims may now be read.
#[derive(Debug)]
pub struct Verified<'a>(Unverified<'a>);

/// Splits `token` into its three segments and reads its header.
pub fn parse(token: &str) -> Result<Unverified<'_>, Malformed> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(Malformed("not three dot-separated segments"));
    };
    let header_len = header.len();
    let header = b64url_decode(header)
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(Malformed("the header is not base64url JSON"))?;
    let signature = b64url_decode(signature).ok_or(Malformed("the signature is not base64url"))?;
    Ok(Unverified {
        header,
        // The first two segments and the dot between them.
        signing_input: &token[..header_len + 1 + payload.len()],
        payload,
        signature,
    })
}

impl<'a> Unverified<'a> {
    /// The header, for choosing the key: nothing in it is vouched for yet.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The token, if `key` signed it with the header's algorithm. The caller decides which
    /// algorithms it accepts before looking a key up; a key of another type never verifies.
    pub async fn verify(self, key: &PublicKey) -> Option<Verified<'a>> {
        let alg = self.header.algorithm()?;
        crate::signature::verify(key, alg, self.signing_input.as_bytes(), &self.signature)
            .await
            .then_some(Verified(self))
    }
}

impl Verified<'_> {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.0.header
    }

    /// The claims, as `T`; an error when the payload is not base64url JSON of that shape.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, Malformed> {
        let json =
            b64url_decode(self.0.payload).ok_or(Malformed("the payload is not base64url"))?;
        serde_json::from_slice(&json).map_err(|_| Malformed("the claims are missing or malformed"))
    }
}

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The claims did not serialise (a bug).
    #[error("claims: {0}")]
    Claims(#[from] serde_json::Error),
    /// The key did not sign.
    #[error(transparent)]
    Key(#[from] SignError),
}

/// `claims` signed by `key`, named `kid`, in compact form; the header's `alg` is the key's
/// own and `typ` is `typ` when given.
pub async fn sign<T: Serialize>(
    key: &SigningKey,
    kid: &str,
    typ: Option<&str>,
    claims: &T,
) -> Result<String, SigningError> {
    let header = Header {
        alg: key.algorithm().jws_name().to_owned(),
        kid: Some(kid.to_owned()),
        typ: typ.map(str::to_owned),
        crit: None,
    };
    let mut token = b64url(&serde_json::to_vec(&header)?);
    token.push('.');
    token.push_str(&b64url(&serde_json::to_vec(claims)?));
    let signature = key.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&b64url(&signature));
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Ed25519Seed;

    fn key() -> (SigningKey, PublicKey) {
        let seed = Ed25519Seed::new([4; 32]);
        let public = PublicKey::Ed25519(seed.public_key().unwrap());
        (SigningKey::ed25519(seed).unwrap(), public)
    }

    async fn token() -> String {
        let claims = serde_json::json!({ "sub": "u1" });
        sign(&key().0, "k1", Some("at+jwt"), &claims).await.unwrap()
    }

    #[tokio::test]
    async fn a_signed_token_verifies_and_yields_its_header_and_claims() {
        let token = token().await;
        let verified = parse(&token).unwrap().verify(&key().1).await.unwrap();
        let header = verified.header();
        assert_eq!(
            (
                header.alg.as_str(),
                header.kid.as_deref(),
                header.typ.as_deref()
            ),
            ("EdDSA", Some("k1"), Some("at+jwt"))
        );
        let claims: serde_json::Value = verified.claims().unwrap();
        assert_eq!(claims["sub"], "u1");
    }

    #[tokio::test]
    async fn a_token_not_of_three_segments_or_with_a_bad_header_is_malformed() {
        let token = token().await;
        for bad in [
            token.rsplit_once('.').unwrap().0.to_owned(),
            format!("{token}.x"),
            format!("!!{}", &token[token.find('.').unwrap()..]),
            format!(
                "{}.{}",
                b64url(b"not json"),
                token.split_once('.').unwrap().1
            ),
            format!("{token}="),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_changed_payload_header_or_key_does_not_verify() {
        let token = token().await;
        let (header, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged = format!("{header}.{}.{signature}", b64url(br#"{"sub":"admin"}"#));
        assert!(parse(&forged).unwrap().verify(&key().1).await.is_none());

        let other = PublicKey::Ed25519(Ed25519Seed::new([5; 32]).public_key().unwrap());
        assert!(parse(&token).unwrap().verify(&other).await.is_none());

        // The same signature under a header that names another algorithm, or none.
        for alg in ["none", "HS256", "ES256"] {
            let header = b64url(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#).as_bytes());
            let swapped = format!("{header}.{rest}");
            let parsed = parse(&swapped).unwrap();
            assert!(parsed.verify(&key().1).await.is_none(), "{alg}");
        }
    }
}
