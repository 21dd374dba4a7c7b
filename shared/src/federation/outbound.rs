//! Outbound HTTPS to identity providers, behind one small trait so the same federation code
//! runs natively (hyper + rustls) and on Workers (the runtime's `fetch`).

use crate::error::Cause;
use crate::protocol::{ClientId, ClientSecret};

/// What authfn ever sends upstream: GETs of discovery documents and key sets, and the form
/// POST of a token request.
#[derive(Clone)]
pub enum OutboundRequest {
    /// A GET of a discovery document or key set.
    Get {
        /// The document's URL, as the provider published it.
        url: String,
    },
    /// A token request: its form carries the authorization code and PKCE verifier, and
    /// `basic_auth` this app's client credentials.
    PostForm {
        /// The provider's token endpoint.
        url: String,
        /// The form's fields in order, names fixed by the protocol; values may be secrets.
        form: Vec<(&'static str, String)>,
        /// This app's client id and secret at the provider, sent as HTTP Basic.
        basic_auth: (ClientId, ClientSecret),
    },
}

/// Names the form's fields, never their values (the code and the PKCE verifier are
/// secrets), and never shows the client secret.
impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundRequest::Get { url } => f.debug_struct("Get").field("url", url).finish(),
            OutboundRequest::PostForm {
                url,
                form,
                basic_auth,
            } => f
                .debug_struct("PostForm")
                .field("url", url)
                .field(
                    "form",
                    &form.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
                )
                .field("client_id", &basic_auth.0)
                .field("client_secret", &basic_auth.1)
                .finish(),
        }
    }
}

impl OutboundRequest {
    /// Where the request goes.
    pub fn url(&self) -> &str {
        match self {
            OutboundRequest::Get { url } | OutboundRequest::PostForm { url, .. } => url,
        }
    }
}

/// The provider's answer, whatever its status.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The whole body, at most [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
}

/// The provider could not be reached, or its answer was not HTTP we can read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// Not sent, or the connection failed midway; the cause says why (refused, timed out, TLS).
    #[error("upstream request failed")]
    Failed(#[source] Cause),
    /// The answer was larger than [`MAX_RESPONSE_BYTES`].
    #[error("upstream answer larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// Upstream answers larger than this are refused: discovery documents and key sets are a few
/// KiB, and a provider (or an attacker between us) must not make a function buffer megabytes.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Sends requests to identity providers; each runtime brings its own (tests a fake).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait HttpClient: Send + Sync {
    /// Sends `request` and reads the whole answer, refusing one over [`MAX_RESPONSE_BYTES`];
    /// redirects are not followed.
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}

/// `application/x-www-form-urlencoded` client credentials for HTTP Basic, as RFC 6749 §2.3.1
/// requires (each part form-encoded before base64).
pub fn basic_authorization(client_id: &ClientId, client_secret: &ClientSecret) -> String {
    use base64ct::{Base64, Encoding};
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!(
        "{}:{}",
        encode(client_id.as_str()),
        encode(client_secret.secret())
    );
    format!("Basic {}", Base64::encode_string(pair.as_bytes()))
}

/// Why a JSON document could not be fetched. Each names the URL: a provider's published
/// document, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchJsonError {
    /// Not reached.
    #[error("GET {url}")]
    Unreachable {
        /// The document's URL.
        url: String,
        /// Why the request failed.
        #[source]
        source: OutboundError,
    },
    /// Answered with a status other than 200.
    #[error("GET {url} answered HTTP {status}")]
    Status {
        /// The document's URL.
        url: String,
        /// The status it answered with.
        status: u16,
    },
    /// Answered 200 with something that is not the expected JSON.
    #[error("GET {url}: not the expected JSON")]
    Invalid {
        /// The document's URL.
        url: String,
        /// What the parser found wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// GETs `url` and parses its 200 answer as `T`: discovery documents and key sets.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    client: &dyn HttpClient,
    url: &str,
) -> Result<T, FetchJsonError> {
    let response = client
        .send(OutboundRequest::Get {
            url: url.to_owned(),
        })
        .await
        .map_err(|source| FetchJsonError::Unreachable {
            url: url.to_owned(),
            source,
        })?;
    if response.status != 200 {
        return Err(FetchJsonError::Status {
            url: url.to_owned(),
            status: response.status,
        });
    }
    serde_json::from_slice(&response.body).map_err(|source| FetchJsonError::Invalid {
        url: url.to_owned(),
        source,
    })
}

/// `form` as an `application/x-www-form-urlencoded` body.
pub fn form_body(form: &[(&'static str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

#[cfg(all(feature = "outbound", not(target_arch = "wasm32")))]
pub use native::NativeHttpClient;

#[cfg(all(feature = "outbound", not(target_arch = "wasm32")))]
mod native {
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use bytes::Bytes;
    use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;

    use super::*;
    use crate::error::context;
    use crate::https::Connector;

    type SetUpError = Arc<dyn std::error::Error + Send + Sync>;

    /// A provider that does not accept the connection within this is unreachable.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    /// The whole exchange, connecting and reading the answer included: a sign-in waits on it.
    const TIMEOUT: Duration = Duration::from_secs(5);

    /// [`crate::https`]'s client, trusting the Mozilla roots compiled into the binary: no
    /// system certificate files are read, which keeps cold starts short and behaviour equal on
    /// every host. Built on first use, not at start-up: parsing the roots is most of a cold
    /// start's extra cost, and `/me` in the issuer's own deployment never calls out.
    #[derive(Default)]
    pub struct NativeHttpClient {
        /// A failed set-up is kept, shared, and given to every request as its cause.
        client: OnceLock<Result<Client<Connector, Full<Bytes>>, SetUpError>>,
    }

    impl NativeHttpClient {
        /// A client whose TLS set-up waits for its first request.
        pub fn new() -> Self {
            Self::default()
        }

        fn client(&self) -> Result<&Client<Connector, Full<Bytes>>, OutboundError> {
            self.client
                .get_or_init(|| {
                    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter();
                    let tls = crate::https::tls_config(roots.map(|der| der.as_ref()))
                        .map_err(|e| Arc::new(e) as SetUpError)?;
                    Ok(crate::https::client(tls, Some(CONNECT_TIMEOUT)))
                })
                .as_ref()
                .map_err(|e| OutboundError::Failed(Box::new(Arc::clone(e))))
        }
    }

    /// `request` as HTTP, asking for JSON.
    fn to_http(request: &OutboundRequest) -> Result<http::Request<Full<Bytes>>, http::Error> {
        let builder = http::Request::builder()
            .uri(request.url())
            .header(ACCEPT, "application/json");
        match request {
            OutboundRequest::Get { .. } => builder.method(http::Method::GET).body(Full::default()),
            OutboundRequest::PostForm {
                form, basic_auth, ..
            } => builder
                .method(http::Method::POST)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(
                    AUTHORIZATION,
                    basic_authorization(&basic_auth.0, &basic_auth.1),
                )
                .body(Full::new(Bytes::from(form_body(form)))),
        }
    }

    /// Sends `request` and reads the answer, stopping as soon as it passes
    /// [`MAX_RESPONSE_BYTES`].
    async fn exchange(
        client: &Client<Connector, Full<Bytes>>,
        request: http::Request<Full<Bytes>>,
    ) -> Result<OutboundResponse, OutboundError> {
        // hyper's errors name neither the URL nor the body; their causes say what failed
        // (refused, reset, TLS), kept for the log.
        let failed = |e: hyper_util::client::legacy::Error| OutboundError::Failed(Box::new(e));
        let response = client.request(request).await.map_err(failed)?;
        let status = response.status().as_u16();
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| OutboundError::Failed(Box::new(e)))?;
            if let Some(chunk) = frame.data_ref() {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(OutboundError::TooLarge);
                }
                body.extend_from_slice(chunk);
            }
        }
        Ok(OutboundResponse { status, body })
    }

    #[async_trait::async_trait]
    impl HttpClient for NativeHttpClient {
        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
            let client = self.client()?;
            let request = to_http(&request)
                .map_err(|e| OutboundError::Failed(context("not a URL this client can call", e)))?;
            tokio::time::timeout(TIMEOUT, exchange(client, request))
                .await
                .map_err(|_| {
                    OutboundError::Failed(
                        format!("no whole answer within {} s", TIMEOUT.as_secs()).into(),
                    )
                })?
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use authfn_blackbox::one_shot::{answer, serve_once};
        use tokio::net::TcpListener;

        #[tokio::test]
        async fn a_token_request_is_a_form_post_with_basic_credentials() {
            let (url, served) = serve_once(answer("200 OK", "", b"{\"ok\":true}")).await;
            let response = NativeHttpClient::new()
                .send(OutboundRequest::PostForm {
                    url: format!("{url}/token"),
                    form: vec![
                        ("grant_type", "authorization_code".into()),
                        ("code", "a b".into()),
                    ],
                    basic_auth: (ClientId::new("app"), ClientSecret::new("s3cret".into())),
                })
                .await
                .unwrap();
            assert_eq!(
                (response.status, response.body.as_slice()),
                (200, &b"{\"ok\":true}"[..])
            );
            let request = served.await.unwrap();
            assert!(request.starts_with("POST /token HTTP/1.1\r\n"), "{request}");
            for line in [
                "content-type: application/x-www-form-urlencoded",
                "accept: application/json",
                "authorization: Basic YXBwOnMzY3JldA==",
            ] {
                assert!(request.contains(line), "{line} missing from {request}");
            }
            assert!(
                request.ends_with("\r\n\r\ngrant_type=authorization_code&code=a+b"),
                "{request}"
            );
        }

        #[tokio::test]
        async fn a_redirect_is_returned_not_followed() {
            let (url, served) = serve_once(answer(
                "302 Found",
                "location: http://127.0.0.1:9/elsewhere\r\n",
                b"",
            ))
            .await;
            let response = NativeHttpClient::new()
                .send(OutboundRequest::Get {
                    url: format!("{url}/jwks"),
                })
                .await
                .unwrap();
            assert_eq!(response.status, 302);
            assert!(served.await.unwrap().starts_with("GET /jwks HTTP/1.1\r\n"));
        }

        #[tokio::test]
        async fn an_answer_over_the_limit_is_refused() {
            let big = vec![b' '; MAX_RESPONSE_BYTES + 1];
            let (url, _served) = serve_once(answer("200 OK", "", &big)).await;
            let result = NativeHttpClient::new()
                .send(OutboundRequest::Get { url })
                .await;
            assert!(matches!(result, Err(OutboundError::TooLarge)), "{result:?}");
        }

        #[tokio::test]
        async fn a_refused_connection_says_why() {
            // Bound, then closed: nothing listens on the port.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/jwks", listener.local_addr().unwrap());
            drop(listener);
            let err = NativeHttpClient::new()
                .send(OutboundRequest::Get { url })
                .await
                .unwrap_err();
            let chain = crate::error::chain(&err);
            assert!(chain.to_lowercase().contains("refused"), "{chain}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // RFC 6749 §2.3.1: "client id:secret" with each part form-urlencoded.
        let header = basic_authorization(&ClientId::new("a b"), &ClientSecret::new("p:w".into()));
        use base64ct::{Base64, Encoding};
        let decoded = Base64::decode_vec(header.strip_prefix("Basic ").unwrap()).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "a+b:p%3Aw");
    }

    #[test]
    fn a_token_request_debugs_without_its_secrets() {
        let request = OutboundRequest::PostForm {
            url: "https://idp.example.com/token".into(),
            form: vec![
                ("code", "the-authorization-code".into()),
                ("code_verifier", "the-pkce-verifier".into()),
            ],
            basic_auth: (
                ClientId::new("app"),
                ClientSecret::new("upstream-client-secret".into()),
            ),
        };
        let shown = format!("{request:?}");
        for secret in [
            "the-authorization-code",
            "the-pkce-verifier",
            "upstream-client-secret",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("idp.example.com")
                && shown.contains("code_verifier")
                && shown.contains("app"),
            "{shown}"
        );
    }
}
