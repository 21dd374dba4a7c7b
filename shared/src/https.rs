//! The native HTTPS stack: hyper's HTTP/1.1 client over rustls (ring), trusting root
//! certificates compiled into the binary. The AWS SDK clients ([`SdkHttpClient`]) and the calls
//! to identity providers (`federation::outbound::NativeHttpClient`) both use it.
//!
//! Why not the SDK's own client (aws-smithy-http-client): it always links HTTP/2 (the `h2`
//! crate, for its error classification as well as its connections), which none of the AWS APIs
//! authfn calls needs. That was about 250 KB of every function's binary and kept
//! `federation-callback`'s zip over 3 MiB (bench/sizes.sh). What it does beyond this module a
//! function does not use: proxies (off unless configured in code; reqwest, used before for
//! identity providers, read `HTTPS_PROXY`, which no Lambda function sets), and poisoning a
//! connection whose attempt timed out, which HTTP/1.1 does anyway by dropping it with the
//! attempt's future.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// TCP, then TLS for `https://` URLs.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// A TLS client configuration trusting only `roots` (DER). A root that does not parse is
/// skipped rather than failing every request.
pub(crate) fn tls_config<'a>(
    roots: impl IntoIterator<Item = &'a [u8]>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        let _ = store.add(rustls::pki_types::CertificateDer::from(der));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// A client for `tls`, giving up on a connection not made within `connect_timeout`. hyper's
/// client never follows a redirect.
pub(crate) fn client<B>(
    tls: rustls::ClientConfig,
    connect_timeout: Option<Duration>,
) -> hyper_util::client::legacy::Client<Connector, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let mut tcp = HttpConnector::new();
    // The TLS layer takes https:// URLs; plain http:// is for local emulators and an identity
    // provider on loopback in development, where configuration allows it.
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        // Without a timer the pool never closes an idle connection.
        .pool_timer(TokioTimer::new())
        .build(connector)
}

#[cfg(feature = "dynamodb")]
pub(crate) use sdk::SdkHttpClient;

#[cfg(feature = "dynamodb")]
mod sdk {
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::retries::ErrorKind;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;

    use std::sync::Mutex;

    use super::*;

    /// The AWS SDK's HTTP client on [`client`]: one connection pool per pair of connect and
    /// read timeouts the SDK asks for (authfn's clients each ask for one).
    #[derive(Debug)]
    pub(crate) struct SdkHttpClient {
        tls: rustls::ClientConfig,
        connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
    }

    type Timeouts = (Option<Duration>, Option<Duration>);

    impl SdkHttpClient {
        pub(crate) fn new(tls: rustls::ClientConfig) -> Self {
            SdkHttpClient {
                tls,
                connectors: Mutex::default(),
            }
        }
    }

    impl HttpClient for SdkHttpClient {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            let timeouts = (settings.connect_timeout(), settings.read_timeout());
            // A panic elsewhere while holding the lock leaves the list whole: keep using it.
            let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
                return connector.clone();
            }
            let connector = SharedHttpConnector::new(Pool {
                client: client(self.tls.clone(), timeouts.0),
                read_timeout: timeouts.1,
            });
            connectors.push((timeouts, connector.clone()));
            connector
        }
    }

    /// One connection pool.
    #[derive(Debug)]
    struct Pool {
        client: hyper_util::client::legacy::Client<Connector, SdkBody>,
        /// How long to wait for the answer's head once the request is sent.
        read_timeout: Option<Duration>,
    }

    impl HttpConnector for Pool {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let request = match request.try_into_http1x() {
                Ok(request) => request,
                Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
            };
            let sent = self.client.request(request);
            let read_timeout = self.read_timeout;
            HttpConnectorFuture::new(async move {
                let answered = match read_timeout {
                    Some(limit) => tokio::time::timeout(limit, sent).await.map_err(|_| {
                        ConnectorError::timeout(
                            format!("no answer within the read timeout of {limit:?}").into(),
                        )
                    })?,
                    None => sent.await,
                };
                let response = answered.map_err(classify)?.map(SdkBody::from_body_1_x);
                HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
            })
        }
    }

    /// What kind of failure `err` is, which decides whether the SDK tries again and how authfn
    /// logs it (`aws_sdk::failure`): a timeout, an I/O failure (refused, reset, closed), or a
    /// request that could not be sent at all.
    fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
        let io = find_source::<std::io::Error>(&err).map(std::io::Error::kind);
        let hyper = find_source::<hyper::Error>(&err);
        if io == Some(std::io::ErrorKind::TimedOut) || hyper.is_some_and(hyper::Error::is_timeout) {
            ConnectorError::timeout(err.into())
        } else if hyper.is_some_and(hyper::Error::is_user) {
            ConnectorError::user(err.into())
        } else if err.is_connect()
            || io.is_some()
            || hyper.is_some_and(|h| h.is_closed() || h.is_canceled())
        {
            ConnectorError::io(err.into())
        } else if hyper.is_some_and(hyper::Error::is_incomplete_message) {
            // The connection closed before the whole answer: worth another attempt.
            ConnectorError::other(err.into(), Some(ErrorKind::TransientError))
        } else {
            ConnectorError::other(err.into(), None)
        }
    }

    /// The first error of type `E` in `err`'s chain of causes, `err` included.
    fn find_source<'a, E: std::error::Error + 'static>(
        err: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a E> {
        let mut next = Some(err);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<E>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }
}
