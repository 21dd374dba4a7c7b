//! ID token validation (OpenID Connect Core §3.1.3.7): signature by a key from the provider's
//! JWKS, `iss`, `aud`, `azp`, `exp`/`iat` with a small skew, and `nonce`.

use serde::Deserialize;

use crate::clock::UnixTime;
use crate::jwk::JwkSet;
use crate::signature::Algorithm;

/// Clock difference tolerated between the provider and us.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Asymmetric algorithms only: every [`Algorithm`]. `none` is not one at all, and neither is
/// HMAC: a provider's JWKS is public, so an HS256 token "signed" with a public key as the
/// secret must never verify (algorithm confusion).
fn accepted(header: &crate::jws::Header) -> Result<Algorithm, IdTokenError> {
    header
        .algorithm()
        .ok_or(IdTokenError::Invalid("its algorithm is not accepted"))
}

/// The claims authfn uses from a validated ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// `iss`: the provider that vouches for the user.
    pub issuer: String,
    /// `sub`: the user's stable id at that provider.
    pub subject: String,
    /// `email`, if the provider shares it.
    pub email: Option<String>,
    /// `email_verified`: whether the provider checked the address.
    pub email_verified: bool,
}

/// Why an ID token was refused. The Display is what the client is told; it never holds
/// token material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Its header is not a JWT's; the parser's error (about the header only) is the cause.
    #[error("ID token is malformed")]
    Malformed(#[source] crate::jws::Malformed),
    /// The header names a key the provider does not publish.
    #[error("ID token is signed by a key the provider does not publish")]
    UnknownKey,
    /// The signature or a claim is wrong, or its algorithm is not accepted; the text says
    /// which, and holds no token material.
    #[error("ID token is invalid: {0}")]
    Invalid(&'static str),
}

/// What the token must match.
pub struct Expected<'a> {
    /// The configured issuer, which `iss` must equal.
    pub issuer: &'a str,
    /// authfn's client id at the provider, which `aud` (and `azp`) must name.
    pub client_id: &'a str,
    /// The nonce this sign-in sent, which the token must carry back.
    pub nonce: &'a crate::federation::attempt::Nonce,
    /// The time `exp` and `iat` are checked against.
    pub now: UnixTime,
}

#[derive(Deserialize)]
struct RawClaims {
    iss: String,
    sub: String,
    #[serde(default)]
    azp: Option<String>,
    aud: Audience,
    exp: i64,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn len(&self) -> usize {
        match self {
            Audience::One(_) => 1,
            Audience::Many(v) => v.len(),
        }
    }

    fn contains(&self, client_id: &str) -> bool {
        match self {
            Audience::One(aud) => aud == client_id,
            Audience::Many(v) => v.iter().any(|aud| aud == client_id),
        }
    }
}

/// Some providers (older Azure AD, Cognito) send `email_verified` as the string "true".
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::Bool(b)) => b,
        Some(B::Text(t)) => t == "true",
        None => false,
    })
}

/// The key id a token's header names, to find (or refetch) the key set before validating.
pub fn key_id(token: &str) -> Result<Option<String>, IdTokenError> {
    let token = crate::jws::parse(token).map_err(IdTokenError::Malformed)?;
    accepted(token.header())?;
    Ok(token.header().kid.clone())
}

/// Validates `token` against the provider's key set and what this sign-in expects.
pub async fn validate(
    token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<IdTokenClaims, IdTokenError> {
    let token = crate::jws::parse(token).map_err(IdTokenError::Malformed)?;
    let alg = accepted(token.header())?;
    let jwk = match &token.header().kid {
        Some(kid) => keys.find(kid).ok_or(IdTokenError::UnknownKey)?,
        // Without a kid, only an unambiguous key set will do.
        None => match keys.keys() {
            [only] => only,
            _ => return Err(IdTokenError::UnknownKey),
        },
    };
    if !jwk.allows(alg) {
        return Err(IdTokenError::Invalid(
            "its algorithm does not match the key's type",
        ));
    }
    let key = &jwk.key;
    let claims: RawClaims = token
        .verify(key)
        .await
        .ok_or(IdTokenError::Invalid("the signature does not verify"))?
        .claims()
        .map_err(|_| IdTokenError::Invalid("its claims are missing or malformed"))?;

    if claims.iss != expected.issuer {
        return Err(IdTokenError::Invalid("it was issued by someone else (iss)"));
    }
    if !claims.aud.contains(expected.client_id) {
        return Err(IdTokenError::Invalid(
            "it was issued to another client (aud)",
        ));
    }
    if claims.aud.len() > 1 && claims.azp.is_none() {
        return Err(IdTokenError::Invalid("it has several audiences and no azp"));
    }
    if claims
        .azp
        .as_deref()
        .is_some_and(|azp| azp != expected.client_id)
    {
        return Err(IdTokenError::Invalid(
            "it was issued to another client (azp)",
        ));
    }
    if claims.exp + CLOCK_SKEW_SECS <= expected.now.0 {
        return Err(IdTokenError::Invalid("it has expired"));
    }
    if claims.iat - CLOCK_SKEW_SECS > expected.now.0 {
        return Err(IdTokenError::Invalid("it was issued in the future"));
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
        crate::crypto::constant_time_eq(n.as_bytes(), expected.nonce.secret().as_bytes())
    });
    if !nonce_ok {
        return Err(IdTokenError::Invalid("its nonce is not this sign-in's"));
    }
    Ok(IdTokenClaims {
        issuer: claims.iss,
        subject: claims.sub,
        email: claims.email,
        email_verified: claims.email_verified,
    })
}
