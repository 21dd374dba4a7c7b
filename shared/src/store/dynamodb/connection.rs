//! Connecting to DynamoDB: the HTTPS client, its trusted roots, timeouts and retries.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;

use super::DynamoStore;
use crate::aws_sdk::LoadConfig;

/// The HTTPS client the SDK calls through (`crate::https`), trusting root certificates
/// compiled into the binary instead of the system's certificate files: reading and parsing
/// those files was most of a function's cold start (bench/cold-start.sh: 3.5x a hello-world
/// Lambda with them, 2.2x with the whole compiled-in Mozilla set, about 1.5x with Amazon's
/// roots alone).
///
/// AWS's own endpoints present certificates from Amazon Trust Services, so for them only its
/// roots are trusted, which also narrows who could mint a certificate we accept. A custom
/// endpoint (a local DynamoDB API, a proxy) gets the whole Mozilla set. SES (`crate::ses`) uses
/// the same client.
pub(crate) fn https_client(custom_endpoint: bool) -> aws_sdk_dynamodb::config::SharedHttpClient {
    let tls = crate::https::tls_config(trusted_roots(custom_endpoint))
        .expect("ring supports rustls's safe default protocol versions");
    aws_sdk_dynamodb::config::SharedHttpClient::new(crate::https::SdkHttpClient::new(tls))
}

fn trusted_roots(custom_endpoint: bool) -> impl Iterator<Item = &'static [u8]> {
    // Subject names as they appear, unparsed, in the DER of Amazon Trust Services' roots
    // (https://www.amazontrust.com/repository/): matching bytes avoids parsing every cert.
    // memchr's searcher, because a naive byte-window scan of ~150 certificates was 60% of a
    // function's start-up instructions (callgrind).
    const AMAZON_ROOTS: [&[u8]; 2] = [
        b"Amazon Root CA",
        b"Starfield Services Root Certificate Authority",
    ];
    let finders = AMAZON_ROOTS.map(memchr::memmem::Finder::new);
    let is_amazon = move |der: &[u8]| finders.iter().any(|f| f.find(der).is_some());
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| der.as_ref())
        .filter(move |der| custom_endpoint || is_amazon(der))
}

impl DynamoStore {
    /// Connects with the default AWS configuration (environment, profile or the Lambda role),
    /// optionally to another endpoint such as a local DynamoDB API.
    pub async fn connect(table: String, endpoint_url: Option<String>) -> DynamoStore {
        Self::connect_with(
            aws_config::defaults(BehaviorVersion::latest()),
            table,
            endpoint_url,
        )
        .await
    }

    /// [`DynamoStore::connect`] inside a Lambda function, with the role's credentials and
    /// region from the environment (see [`crate::aws_sdk::lambda_config_loader`]).
    pub async fn connect_in_lambda(table: String, endpoint_url: Option<String>) -> DynamoStore {
        Self::connect_with(crate::aws_sdk::lambda_config_loader(), table, endpoint_url).await
    }

    /// As [`DynamoStore::connect`], from a loader the caller has started to configure, e.g.
    /// with fixed credentials and region so that nothing consults the instance metadata service.
    pub async fn connect_with(
        loader: impl LoadConfig,
        table: String,
        endpoint_url: Option<String>,
    ) -> DynamoStore {
        let config = configured(loader, endpoint_url).load().await;
        DynamoStore::from_client(Client::new(&config), table)
    }

    /// [`DynamoStore::connect_in_lambda`], timing every call with `timer` (the
    /// `StoreLatency` metric, [`crate::metrics`]).
    pub async fn connect_in_lambda_timed(
        table: String,
        endpoint_url: Option<String>,
        timer: crate::metrics::StoreTimer,
    ) -> DynamoStore {
        let config = configured(crate::aws_sdk::lambda_config_loader(), endpoint_url)
            .load()
            .await;
        let config = aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(timer)
            .build();
        DynamoStore::from_client(Client::from_conf(config), table)
    }
}

/// `loader` with the store's HTTPS client, timeouts and retries, and `endpoint_url` if any.
fn configured<L: LoadConfig>(loader: L, endpoint_url: Option<String>) -> L {
    // During an outage a Lambda should answer 503 within seconds rather than hang until
    // its own timeout: a connection is refused or made within 1 s, an attempt gets 2 s,
    // and the whole call, retries included, 5 s (longer only under a local emulator:
    // `aws_sdk::scaled`).
    let scaled = crate::aws_sdk::scaled;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(scaled(Duration::from_secs(1)))
        .operation_attempt_timeout(scaled(Duration::from_secs(2)))
        .operation_timeout(scaled(Duration::from_secs(5)))
        .build();
    let mut loader = loader
        .http_client(https_client(endpoint_url.is_some()))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader
}

#[cfg(test)]
mod tests {
    use super::trusted_roots;

    #[test]
    fn aws_endpoints_trust_amazon_roots_only() {
        // Amazon Root CA 1-4 and the Starfield Services root that cross-signs them.
        assert_eq!(trusted_roots(false).count(), 5);
        assert!(
            trusted_roots(true).count() > 100,
            "a custom endpoint gets the whole Mozilla set"
        );
    }
}
