//! Access tokens for CLI and mobile clients: short-lived JWTs (RFC 9068 profile) signed with
//! EdDSA, verifiable by anyone holding the published JWKS.

use serde::{Deserialize, Serialize};

use super::keys::JwtKeys;
use crate::clock::UnixTime;
use crate::crypto::{b64url, random_array};
use crate::signature::{Algorithm, PublicKey};

/// RFC 9068's media type for JWT access tokens, so one can never pass for an ID token.
pub const TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token (RFC 9068 §2.2), as signed and as a verifier returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer: the signing deployment's `AUTHFN_PUBLIC_URL`, without a trailing slash.
    pub iss: String,
    /// The user the token acts for (their authfn user id).
    pub sub: String,
    /// The audience: the resource servers the token is for (`AUTHFN_ACCESS_TOKEN_AUDIENCE`).
    pub aud: String,
    /// When the token expires, in Unix seconds.
    pub exp: i64,
    /// When the token was issued, in Unix seconds.
    pub iat: i64,
    /// A random id unique to this token.
    pub jti: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The client the token was issued to.
    pub client_id: String,
}

impl AccessTokenClaims {
    /// Claims for a token issued `now` that expires `lifetime` later, with a fresh `jti`.
    pub fn new(
        iss: &str,
        aud: &str,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: UnixTime,
        lifetime: std::time::Duration,
    ) -> Result<Self, getrandom::Error> {
        Ok(AccessTokenClaims {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            aud: aud.to_owned(),
            iat: now.0,
            exp: now.plus(lifetime).0,
            jti: b64url(&random_array::<16>()?),
            scope: scope.to_owned(),
            client_id: client_id.to_owned(),
        })
    }

    /// The granted scopes one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

/// Signs an access token with the current EdDSA key, `typ` [`TOKEN_TYPE`] and its `kid`.
pub async fn sign(keys: &JwtKeys, claims: &AccessTokenClaims) -> Result<String, String> {
    let key = keys.current();
    crate::jws::sign(key.signing()?, key.kid(), Some(TOKEN_TYPE), claims)
        .await
        .map_err(|e| format!("signing an access token: {e}"))
}

/// The claims of an ID token for the client that asked for `openid`: who signed in, for that
/// client only (`aud` = its id), and the address when `email` was granted.
#[derive(Debug, Clone, Serialize)]
pub struct IdTokenClaims<'a> {
    /// The issuer, as in the access token.
    pub iss: &'a str,
    /// The user who signed in (their authfn user id).
    pub sub: &'a str,
    /// The client the token is for (its client id).
    pub aud: &'a str,
    /// When the token expires, in Unix seconds.
    pub exp: i64,
    /// When the token was issued, in Unix seconds.
    pub iat: i64,
    /// The user's address, only when the `email` scope was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    /// Whether that address was verified, only next to `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// Signs an ID token: RS256 when an RSA key is configured (what every OpenID Connect client
/// accepts), else EdDSA with the access-token key. Either key is in the JWKS.
pub async fn sign_id_token(keys: &JwtKeys, claims: &IdTokenClaims<'_>) -> Result<String, String> {
    let (kid, key) = match keys.id_token_rsa() {
        Some(rsa) => (rsa.kid(), rsa.signing()?),
        None => (keys.current().kid(), keys.current().signing()?),
    };
    crate::jws::sign(key, kid, None, claims)
        .await
        .map_err(|e| format!("signing an ID token: {e}"))
}

/// Why a token was refused: a fixed phrase, never anything from the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAccessToken(pub &'static str);

impl std::fmt::Display for InvalidAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "access token is invalid: {}", self.0)
    }
}

/// Where verification finds the public key a token's `kid` names: the issuer's own keys, or
/// a key set fetched from its JWKS (`oauth::verifier`).
pub trait KeyLookup {
    /// The public key named `kid`, `None` when there is none.
    fn public_key(&self, kid: &str) -> Option<PublicKey>;
}

impl KeyLookup for JwtKeys {
    fn public_key(&self, kid: &str) -> Option<PublicKey> {
        self.find(kid).map(super::keys::JwtKey::public_key)
    }
}

/// How far in the future a token's `iat` may be: the issuer's clock may run a little ahead of
/// a resource server's, as for ID tokens.
pub const CLOCK_SKEW_SECS: i64 = crate::federation::id_token::CLOCK_SKEW_SECS;

/// Verifies a token against `keys`: EdDSA only, no `crit` extension (RFC 7515 §4.1.11: we
/// understand none), a known `kid`, `typ` `at+jwt`, the issuer and audience, expiry against
/// `now` (no skew: these tokens come from this very service) and an `iat` not in the future.
pub async fn verify(
    token: &str,
    keys: &(dyn KeyLookup + Sync),
    issuer: &str,
    audience: &str,
    now: UnixTime,
) -> Result<AccessTokenClaims, InvalidAccessToken> {
    let token = crate::jws::parse(token).map_err(|_| InvalidAccessToken("not a JWT"))?;
    let header = token.header();
    if header.algorithm() != Some(Algorithm::EdDsa) {
        return Err(InvalidAccessToken("wrong algorithm"));
    }
    if header.crit.is_some() {
        return Err(InvalidAccessToken(
            "critical header extension not understood",
        ));
    }
    if header
        .typ
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
        != Some(TOKEN_TYPE)
    {
        return Err(InvalidAccessToken("not an access token (typ)"));
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.public_key(kid))
        .ok_or(InvalidAccessToken("unknown key"))?;
    let claims: AccessTokenClaims = token
        .verify(&key)
        .await
        .ok_or(InvalidAccessToken("signature or claims do not verify"))?
        .claims()
        .map_err(|_| InvalidAccessToken("signature or claims do not verify"))?;
    if claims.iss != issuer || claims.aud != audience {
        return Err(InvalidAccessToken("signature or claims do not verify"));
    }
    if claims.exp <= now.0 {
        return Err(InvalidAccessToken("expired"));
    }
    if claims.iat - CLOCK_SKEW_SECS > now.0 {
        return Err(InvalidAccessToken("issued in the future"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(b: u8) -> JwtKeys {
        JwtKeys::parse(&b64url(&[b; 32])).unwrap()
    }

    fn claims(now: UnixTime) -> AccessTokenClaims {
        AccessTokenClaims::new(
            "https://auth.example.com",
            "https://api.example.com",
            "user-1",
            "cli",
            "openid api",
            now,
            std::time::Duration::from_secs(600),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_signed_token_verifies_until_it_expires() {
        let k = keys(1);
        let token = sign(&k, &claims(UnixTime(1000))).await.unwrap();
        let got = verify(
            &token,
            &k,
            "https://auth.example.com",
            "https://api.example.com",
            UnixTime(1599),
        )
        .await
        .unwrap();
        assert_eq!(got.sub, "user-1");
        assert_eq!(got.scopes().collect::<Vec<_>>(), ["openid", "api"]);
        assert_eq!(
            verify(
                &token,
                &k,
                "https://auth.example.com",
                "https://api.example.com",
                UnixTime(1600)
            )
            .await,
            Err(InvalidAccessToken("expired"))
        );
    }

    #[tokio::test]
    async fn wrong_key_issuer_or_audience_is_refused() {
        let token = sign(&keys(1), &claims(UnixTime(1000))).await.unwrap();
        let now = UnixTime(1001);
        assert!(
            verify(
                &token,
                &keys(2),
                "https://auth.example.com",
                "https://api.example.com",
                now
            )
            .await
            .is_err()
        );
        assert!(
            verify(
                &token,
                &keys(1),
                "https://other.example.com",
                "https://api.example.com",
                now
            )
            .await
            .is_err()
        );
        assert!(
            verify(
                &token,
                &keys(1),
                "https://auth.example.com",
                "https://other.example.com",
                now
            )
            .await
            .is_err()
        );
        let rotated =
            JwtKeys::parse(&format!("{},{}", b64url(&[3; 32]), b64url(&[1; 32]))).unwrap();
        assert!(
            verify(
                &token,
                &rotated,
                "https://auth.example.com",
                "https://api.example.com",
                now
            )
            .await
            .is_ok(),
            "previous keys verify"
        );
    }

    /// Signs `claims` with `keys` under a header the test writes.
    async fn sign_with(
        k: &JwtKeys,
        claims: &AccessTokenClaims,
        header: serde_json::Value,
    ) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(&serde_json::to_vec(claims).unwrap())
        );
        let signature = k
            .current()
            .signing()
            .unwrap()
            .sign(input.as_bytes())
            .await
            .unwrap();
        format!("{input}.{}", b64url(&signature))
    }

    #[tokio::test]
    async fn a_token_with_a_critical_extension_is_refused() {
        let k = keys(1);
        let header = serde_json::json!({
            "alg": "EdDSA", "kid": k.current().kid(), "typ": TOKEN_TYPE, "crit": ["exp-v2"],
        });
        let token = sign_with(&k, &claims(UnixTime(1000)), header).await;
        assert_eq!(
            verify(
                &token,
                &k,
                "https://auth.example.com",
                "https://api.example.com",
                UnixTime(1001)
            )
            .await,
            Err(InvalidAccessToken(
                "critical header extension not understood"
            ))
        );
    }

    #[tokio::test]
    async fn a_token_issued_in_the_future_beyond_the_skew_is_refused() {
        let k = keys(1);
        let token = sign(&k, &claims(UnixTime(1000))).await.unwrap();
        let verify_at = |now| {
            verify(
                &token,
                &k,
                "https://auth.example.com",
                "https://api.example.com",
                now,
            )
        };
        assert!(
            verify_at(UnixTime(1000 - CLOCK_SKEW_SECS)).await.is_ok(),
            "within the skew"
        );
        assert_eq!(
            verify_at(UnixTime(1000 - CLOCK_SKEW_SECS - 1)).await,
            Err(InvalidAccessToken("issued in the future"))
        );
    }

    #[tokio::test]
    async fn a_tampered_token_is_refused() {
        let k = keys(1);
        let token = sign(&k, &claims(UnixTime(1000))).await.unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&crate::crypto::b64url_decode(&parts[1]).unwrap()).unwrap();
        payload["sub"] = "admin".into();
        parts[1] = b64url(payload.to_string().as_bytes());
        assert!(
            verify(
                &parts.join("."),
                &k,
                "https://auth.example.com",
                "https://api.example.com",
                UnixTime(1001)
            )
            .await
            .is_err()
        );
    }
}
