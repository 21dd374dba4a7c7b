//! Verifying access tokens the way a resource server does: against the issuer's published
//! JWKS, fetched over HTTPS and cached per warm instance. This is the one call your own API
//! functions need for CLI and mobile clients ([`crate::App::verify_access_token`]).
//!
//! | variable | default |
//! |---|---|
//! | `AUTHFN_ACCESS_TOKEN_ISSUER` | `AUTHFN_PUBLIC_URL` |
//! | `AUTHFN_ACCESS_TOKEN_AUDIENCE` | the issuer |
//! | `AUTHFN_ACCESS_TOKEN_JWKS_URL` | `{issuer}/.well-known/jwks.json` |

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::access_token::{self, AccessTokenClaims, InvalidAccessToken};
use crate::clock::UnixTime;
use crate::federation::outbound::{FetchJsonError, HttpClient, get_json};
use crate::jwk::JwkSet;
use crate::settings::{ConfigError, Settings, web_url};
use crate::signature::PublicKey;

/// How long a fetched key set is trusted before it is fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(300);
/// After a token names an unknown key, the next forced refetch waits at least this long.
pub const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Whose access tokens a deployment accepts, and where their keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The `iss` a token must carry.
    pub issuer: String,
    /// The `aud` a token must carry.
    pub audience: String,
    /// Where the issuer publishes its JWKS (https, or http on a loopback host).
    pub jwks_url: String,
}

impl VerifierConfig {
    /// Whose tokens to accept: `None` when neither an issuer nor `AUTHFN_PUBLIC_URL` is set.
    pub fn from_settings(
        settings: &Settings<'_>,
        public_url: Option<&url::Url>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| settings.get(name);
        let issuer = get("AUTHFN_ACCESS_TOKEN_ISSUER")
            .or_else(|| public_url.map(|u| u.as_str().trim_end_matches('/').to_owned()));
        let Some(issuer) = issuer else {
            return Ok(None);
        };
        let jwks_url = get("AUTHFN_ACCESS_TOKEN_JWKS_URL")
            .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        web_url("AUTHFN_ACCESS_TOKEN_JWKS_URL", &jwks_url)?;
        Ok(Some(VerifierConfig {
            audience: get("AUTHFN_ACCESS_TOKEN_AUDIENCE").unwrap_or_else(|| issuer.clone()),
            issuer,
            jwks_url,
        }))
    }
}

#[derive(Clone)]
struct Entry {
    keys: JwkSet,
    fetched_at: UnixTime,
    forced_refetch_at: Option<UnixTime>,
}

static CACHE: Mutex<BTreeMap<String, Entry>> = Mutex::new(BTreeMap::new());

/// The published keys as `access_token::verify` looks them up: Ed25519 only.
struct PublishedKeys<'a>(&'a JwkSet);

impl access_token::KeyLookup for PublishedKeys<'_> {
    fn public_key(&self, kid: &str) -> Option<PublicKey> {
        Some(self.0.find(kid)?.key.clone()).filter(|k| matches!(k, PublicKey::Ed25519(_)))
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token itself is bad (the caller answers 401).
    #[error("the access token is invalid: {}", .0.0)]
    Invalid(InvalidAccessToken),
    /// The key set could not be fetched: the caller answers 503/502, not 401.
    #[error("the issuer's key set could not be fetched")]
    KeysUnavailable(#[source] FetchJsonError),
}

/// Verifies `token` against the key set at `config.jwks_url`.
pub async fn verify(
    client: &dyn HttpClient,
    config: &VerifierConfig,
    token: &str,
    now: UnixTime,
) -> Result<AccessTokenClaims, VerifyError> {
    let keys = keys(client, config, now).await?;
    match access_token::verify(
        token,
        &PublishedKeys(&keys),
        &config.issuer,
        &config.audience,
        now,
    )
    .await
    {
        Err(InvalidAccessToken("unknown key")) => {
            // The issuer may have rotated in a key we have not seen yet.
            let Some(fresh) = refetch(client, config, now).await? else {
                return Err(VerifyError::Invalid(InvalidAccessToken("unknown key")));
            };
            access_token::verify(
                token,
                &PublishedKeys(&fresh),
                &config.issuer,
                &config.audience,
                now,
            )
            .await
            .map_err(VerifyError::Invalid)
        }
        other => other.map_err(VerifyError::Invalid),
    }
}

async fn keys(
    client: &dyn HttpClient,
    config: &VerifierConfig,
    now: UnixTime,
) -> Result<JwkSet, VerifyError> {
    let cached = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&config.jwks_url)
        .cloned();
    if let Some(entry) = cached.filter(|e| now < e.fetched_at.plus(JWKS_TTL)) {
        return Ok(entry.keys);
    }
    fetch_and_remember(client, config, now, None).await
}

async fn refetch(
    client: &dyn HttpClient,
    config: &VerifierConfig,
    now: UnixTime,
) -> Result<Option<JwkSet>, VerifyError> {
    let previous = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&config.jwks_url)
        .and_then(|e| e.forced_refetch_at);
    if previous.is_some_and(|at| now < at.plus(KEY_REFETCH_INTERVAL)) {
        return Ok(None);
    }
    fetch_and_remember(client, config, now, Some(now))
        .await
        .map(Some)
}

async fn fetch_and_remember(
    client: &dyn HttpClient,
    config: &VerifierConfig,
    now: UnixTime,
    forced_refetch_at: Option<UnixTime>,
) -> Result<JwkSet, VerifyError> {
    let keys = fetch(client, &config.jwks_url).await?;
    let entry = Entry {
        keys: keys.clone(),
        fetched_at: now,
        forced_refetch_at,
    };
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(config.jwks_url.clone(), entry);
    Ok(keys)
}

async fn fetch(client: &dyn HttpClient, url: &str) -> Result<JwkSet, VerifyError> {
    get_json(client, url)
        .await
        .map_err(VerifyError::KeysUnavailable)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;
    use crate::crypto::b64url;
    use crate::federation::outbound::{OutboundError, OutboundRequest, OutboundResponse};
    use crate::oauth::JwtKeys;

    /// A TEST DOUBLE for the issuer's JWKS endpoint (the black-box suite covers the real one):
    /// serves whatever key set it holds now, and counts fetches.
    struct JwksEndpoint {
        jwks: StdMutex<serde_json::Value>,
        fetches: StdMutex<usize>,
    }

    #[async_trait::async_trait]
    impl HttpClient for JwksEndpoint {
        async fn send(&self, _: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
            *self.fetches.lock().unwrap() += 1;
            Ok(OutboundResponse {
                status: 200,
                body: self.jwks.lock().unwrap().to_string().into_bytes(),
            })
        }
    }

    fn config(url: &str) -> VerifierConfig {
        VerifierConfig {
            issuer: "https://auth.example.com".into(),
            audience: "https://api.example.com".into(),
            jwks_url: url.into(),
        }
    }

    async fn token(keys: &JwtKeys, now: UnixTime) -> String {
        let claims = AccessTokenClaims::new(
            "https://auth.example.com",
            "https://api.example.com",
            "u1",
            "cli",
            "openid",
            now,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
        access_token::sign(keys, &claims).await.unwrap()
    }

    #[tokio::test]
    async fn verifies_against_the_published_keys_and_caches_them() {
        let keys = JwtKeys::parse(&b64url(&[5; 32])).unwrap();
        let endpoint = JwksEndpoint {
            jwks: StdMutex::new(keys.jwks()),
            fetches: StdMutex::new(0),
        };
        let c = config("https://auth.example.com/jwks-a");
        let now = UnixTime(10_000);
        assert_eq!(
            verify(&endpoint, &c, &token(&keys, now).await, now)
                .await
                .unwrap()
                .sub,
            "u1"
        );
        assert_eq!(
            verify(&endpoint, &c, &token(&keys, now).await, UnixTime(now.0 + 1))
                .await
                .unwrap()
                .sub,
            "u1"
        );
        assert_eq!(
            *endpoint.fetches.lock().unwrap(),
            1,
            "the key set is cached"
        );

        let other = JwtKeys::parse(&b64url(&[6; 32])).unwrap();
        let forged = token(&other, now).await;
        let refused = verify(&endpoint, &c, &forged, now).await;
        assert!(
            matches!(
                refused,
                Err(VerifyError::Invalid(InvalidAccessToken("unknown key")))
            ),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_rotated_in_key_is_fetched_once() {
        let old = JwtKeys::parse(&b64url(&[7; 32])).unwrap();
        let endpoint = JwksEndpoint {
            jwks: StdMutex::new(old.jwks()),
            fetches: StdMutex::new(0),
        };
        let c = config("https://auth.example.com/jwks-b");
        let now = UnixTime(20_000);
        verify(&endpoint, &c, &token(&old, now).await, now)
            .await
            .unwrap();
        // The issuer rotates: new key first, old one still published.
        let rotated =
            JwtKeys::parse(&format!("{},{}", b64url(&[8; 32]), b64url(&[7; 32]))).unwrap();
        *endpoint.jwks.lock().unwrap() = rotated.jwks();
        assert_eq!(
            verify(&endpoint, &c, &token(&rotated, now).await, now)
                .await
                .unwrap()
                .sub,
            "u1"
        );
        assert_eq!(*endpoint.fetches.lock().unwrap(), 2);
        // Unknown kids cannot make every request fetch.
        let stranger = JwtKeys::parse(&b64url(&[9; 32])).unwrap();
        assert!(
            verify(
                &endpoint,
                &c,
                &token(&stranger, now).await,
                UnixTime(now.0 + 1)
            )
            .await
            .is_err()
        );
        assert_eq!(*endpoint.fetches.lock().unwrap(), 2);
    }
}
