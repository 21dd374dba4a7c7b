//! Provider metadata (OpenID Connect Discovery) and signing keys, fetched from the issuer and
//! cached for the life of a warm instance, within bounds.
//!
//! The cache is process-wide (a Worker isolate or a Lambda execution environment keeps it
//! between requests). Entries expire after [`METADATA_TTL`]; an ID token signed with a
//! key id the cached set lacks triggers one refetch of the key set (providers rotate keys); after
//! that, such refetches happen at most once per [`KEY_REFETCH_INTERVAL`], so forged key
//! ids cannot make every request fetch.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use super::config::IssuerUrl;
use super::outbound::{FetchJsonError, HttpClient, get_json};
use crate::clock::UnixTime;
use crate::jwk::JwkSet;
use crate::settings::is_web_url;

/// How long cached metadata and keys are used before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(60 * 60);
/// The least time between two key refetches forced by an unknown key id.
pub const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// The parts of a discovery document authfn uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier, which must equal the configured one.
    pub issuer: String,
    /// Where browsers are sent to sign in.
    pub authorization_endpoint: String,
    /// Where authfn redeems the authorization code.
    pub token_endpoint: String,
    /// Where the provider publishes its signing keys.
    pub jwks_uri: String,
    /// RFC 9207: the provider puts `iss` in every authorization response, so one without it
    /// did not come from this provider.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Why a provider's metadata or keys could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The document could not be fetched or parsed.
    #[error("the provider's metadata or keys could not be fetched")]
    Fetch(#[from] FetchJsonError),
    /// The discovery document breaks a rule; the text says which.
    #[error("{0}")]
    Invalid(&'static str),
}

#[derive(Clone)]
struct Entry {
    metadata: ProviderMetadata,
    keys: JwkSet,
    fetched_at: UnixTime,
    /// When an unknown key id last forced a refetch of the keys.
    forced_refetch_at: Option<UnixTime>,
}

static CACHE: Mutex<BTreeMap<String, Entry>> = Mutex::new(BTreeMap::new());

fn cached(issuer: &IssuerUrl) -> Option<Entry> {
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(issuer.as_str())
        .cloned()
}

fn remember(issuer: &IssuerUrl, entry: Entry) {
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(issuer.as_str().to_owned(), entry);
}

/// Metadata and keys of `issuer`, from the cache while fresh.
pub async fn provider(
    client: &dyn HttpClient,
    issuer: &IssuerUrl,
    now: UnixTime,
) -> Result<(ProviderMetadata, JwkSet), DiscoveryError> {
    if let Some(entry) = cached(issuer).filter(|e| now < e.fetched_at.plus(METADATA_TTL)) {
        return Ok((entry.metadata, entry.keys));
    }
    let metadata: ProviderMetadata = fetch_json(client, &issuer.discovery_url()).await?;
    // Discovery §4.3: the document must name exactly the issuer it was fetched for, or a
    // compromised document could redirect validation to another issuer's tokens.
    if metadata.issuer != issuer.as_str() {
        return Err(DiscoveryError::Invalid(
            "the discovery document names another issuer",
        ));
    }
    for (refused, url) in [
        (
            "the discovery document's authorization_endpoint is not an https URL",
            &metadata.authorization_endpoint,
        ),
        (
            "the discovery document's token_endpoint is not an https URL",
            &metadata.token_endpoint,
        ),
        (
            "the discovery document's jwks_uri is not an https URL",
            &metadata.jwks_uri,
        ),
    ] {
        if !url::Url::parse(url).is_ok_and(|u| is_web_url(&u)) {
            return Err(DiscoveryError::Invalid(refused));
        }
    }
    let keys: JwkSet = fetch_json(client, &metadata.jwks_uri).await?;
    remember(
        issuer,
        Entry {
            metadata: metadata.clone(),
            keys: keys.clone(),
            fetched_at: now,
            forced_refetch_at: None,
        },
    );
    Ok((metadata, keys))
}

/// Refetches the key set after a token named a key id the cached set lacks. Returns `None`
/// when a refetch happened too recently to try again.
pub async fn refetch_keys(
    client: &dyn HttpClient,
    issuer: &IssuerUrl,
    now: UnixTime,
) -> Result<Option<JwkSet>, DiscoveryError> {
    let Some(mut entry) = cached(issuer) else {
        return provider(client, issuer, now).await.map(|(_, k)| Some(k));
    };
    if entry
        .forced_refetch_at
        .is_some_and(|at| now < at.plus(KEY_REFETCH_INTERVAL))
    {
        return Ok(None);
    }
    let keys: JwkSet = fetch_json(client, &entry.metadata.jwks_uri).await?;
    entry.keys = keys.clone();
    entry.forced_refetch_at = Some(now);
    remember(issuer, entry);
    Ok(Some(keys))
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    client: &dyn HttpClient,
    url: &str,
) -> Result<T, DiscoveryError> {
    Ok(get_json(client, url).await?)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;
    use crate::federation::outbound::{OutboundError, OutboundRequest, OutboundResponse};

    /// A TEST DOUBLE for the provider, for the one case a real provider cannot be made to
    /// produce on demand here: a broken or hostile discovery document. Counts its requests.
    struct CannedProvider {
        discovery: String,
        requests: StdMutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl HttpClient for CannedProvider {
        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
            self.requests.lock().unwrap().push(request.url().to_owned());
            let body = if request.url().ends_with("/openid-configuration") {
                self.discovery.clone()
            } else {
                r#"{"keys":[]}"#.to_owned()
            };
            Ok(OutboundResponse {
                status: 200,
                body: body.into_bytes(),
            })
        }
    }

    fn issuer(url: &str) -> IssuerUrl {
        let get = |name: &str| match name {
            "AUTHFN_FEDERATION_PROVIDERS" => Some("p".to_owned()),
            "AUTHFN_FEDERATION_P_ISSUER" => Some(url.to_owned()),
            "AUTHFN_FEDERATION_P_CLIENT_ID" | "AUTHFN_FEDERATION_P_CLIENT_SECRET" => {
                Some("x".to_owned())
            }
            "AUTHFN_PUBLIC_URL" => Some("https://auth.example.com".to_owned()),
            "AUTHFN_RETURN_TO" => Some("https://app.example.com/".to_owned()),
            _ => None,
        };
        let public = url::Url::parse("https://auth.example.com").unwrap();
        crate::federation::FederationConfig::from_settings(
            &crate::settings::Settings::new(&get),
            Some(&public),
        )
        .unwrap()
        .provider("p")
        .unwrap()
        .issuer
        .clone()
    }

    fn provider_with(issuer_url: &str, doc_issuer: &str, token_endpoint: &str) -> CannedProvider {
        let discovery = serde_json::json!({
            "issuer": doc_issuer,
            "authorization_endpoint": format!("{issuer_url}/auth"),
            "token_endpoint": token_endpoint,
            "jwks_uri": format!("{issuer_url}/jwks"),
        });
        CannedProvider {
            discovery: discovery.to_string(),
            requests: StdMutex::new(Vec::new()),
        }
    }

    #[tokio::test]
    async fn a_document_naming_another_issuer_is_refused() {
        let url = "https://idp-a.example.com";
        let client = provider_with(
            url,
            "https://idp-b.example.com",
            "https://idp-a.example.com/token",
        );
        let err = provider(&client, &issuer(url), UnixTime(1000))
            .await
            .unwrap_err();
        assert!(matches!(err, DiscoveryError::Invalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn plain_http_endpoints_are_refused() {
        let url = "https://idp-c.example.com";
        let client = provider_with(url, url, "http://idp-c.example.com/token");
        let err = provider(&client, &issuer(url), UnixTime(1000))
            .await
            .unwrap_err();
        assert!(matches!(err, DiscoveryError::Invalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn metadata_is_cached_and_forced_key_refetches_are_rate_limited() {
        let url = "https://idp-d.example.com";
        let client = provider_with(url, url, "https://idp-d.example.com/token");
        let iss = issuer(url);
        provider(&client, &iss, UnixTime(1000)).await.unwrap();
        provider(&client, &iss, UnixTime(999).plus(METADATA_TTL))
            .await
            .unwrap();
        assert_eq!(
            client.requests.lock().unwrap().len(),
            2,
            "one discovery and one key fetch while fresh"
        );

        assert!(
            refetch_keys(&client, &iss, UnixTime(1001))
                .await
                .unwrap()
                .is_some(),
            "the first forced refetch happens"
        );
        assert!(
            refetch_keys(&client, &iss, UnixTime(1002))
                .await
                .unwrap()
                .is_none(),
            "a second within the interval does not"
        );
        let later = UnixTime(1001).plus(KEY_REFETCH_INTERVAL);
        assert!(refetch_keys(&client, &iss, later).await.unwrap().is_some());

        provider(&client, &iss, UnixTime(1000).plus(METADATA_TTL))
            .await
            .unwrap();
        assert_eq!(
            client.requests.lock().unwrap().len(),
            6,
            "expired metadata is fetched again"
        );
    }
}
