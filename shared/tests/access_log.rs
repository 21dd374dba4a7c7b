//! The one log line per request: what it names, and what it must never carry.

mod support;

use std::sync::Arc;

use authfn::Endpoint;
use authfn::access_log::{LogLine, RequestLog};
use authfn::federation::outbound::{HttpClient, OutboundError, OutboundRequest, OutboundResponse};
use bytes::Bytes;
use http::StatusCode;
use support::*;

/// Serves `req` as the Lambda adapter does and returns the answer's body and its log line.
async fn serve_logged(h: &Harness, req: http::Request<Bytes>) -> (StatusCode, String, LogLine) {
    let log = RequestLog::start(&req, "test-request");
    let res = match Endpoint::for_path(req.uri().path()) {
        Some(endpoint) => h.app.handle(endpoint, req).await,
        None => h.app.route(req).await,
    };
    let line = log.finish(&res);
    (res.status(), res.into_body(), line)
}

#[tokio::test]
async fn a_failed_sign_in_is_logged_with_its_code_and_without_any_credential() {
    let h = Harness::memory(&[]).await;
    let email = "log.me.not@example.com";
    let cookie = h.sign_up(email, PASSWORD).await.cookie();
    let wrong = "wrong-password-never-logged";
    let req = http::Request::post("https://api.example.com/auth/sign-in?next=%2Fsecret-query")
        .header("content-type", JSON)
        .header("origin", TRUSTED_ORIGIN)
        .header("cookie", &cookie)
        .body(Bytes::from(creds(email, wrong)))
        .unwrap();
    let (status, _, line) = serve_logged(&h, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let json: serde_json::Value = serde_json::from_str(&line.json()).unwrap();
    assert_eq!(json["endpoint"], "sign-in");
    assert_eq!(json["method"], "POST");
    assert_eq!(json["path"], "/auth/sign-in");
    assert_eq!(json["status"], 401);
    assert_eq!(json["error"], "invalid_credentials");
    assert_eq!(json["request_id"], "test-request");
    assert!(json["latency_ms"].is_u64());
    let text = line.json();
    let cookie_value = cookie.split_once('=').unwrap().1;
    for secret in [wrong, email, "@", cookie_value, "secret-query"] {
        assert!(
            !text.contains(secret),
            "the log line carries {secret:?}: {text}"
        );
    }
    assert!(
        line.human()
            .starts_with("POST /auth/sign-in 401 invalid_credentials "),
        "{}",
        line.human()
    );
}

/// FAULT (test-only, named as such): an issuer whose key set cannot be fetched, with the
/// reason the native client would give.
struct RefusingIssuer;

#[async_trait::async_trait]
impl HttpClient for RefusingIssuer {
    async fn send(&self, _: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        Err(OutboundError::Failed(
            "tcp connect error: Connection refused (os error 111)".into(),
        ))
    }
}

#[tokio::test]
async fn why_an_upstream_call_failed_reaches_the_log_but_not_the_client() {
    let h = Harness::memory(&[("AUTHFN_ACCESS_TOKEN_ISSUER", "https://auth.example.com")])
        .await
        .with_http_client(Arc::new(RefusingIssuer));
    let req = http::Request::get("https://api.example.com/me")
        .header(
            "authorization",
            "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln",
        )
        .body(Bytes::new())
        .unwrap();
    let (status, body, line) = serve_logged(&h, req).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(line.error, Some("keys_unavailable"));
    let cause = line.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains("https://auth.example.com/") && cause.contains("Connection refused"),
        "{cause}"
    );
    assert!(
        !body.contains("Connection refused") && !body.contains("auth.example.com"),
        "{body}"
    );
    assert!(!line.json().contains("eyJ"), "no token in {}", line.json());
}

#[tokio::test]
async fn an_internal_errors_detail_reaches_the_log_but_not_the_client() {
    // A token function deployed with the issuer's public keys only: a broken deployment.
    let seed = key_b64(7);
    let public = authfn::oauth::keys::JwtKeys::parse(&seed).unwrap().jwks()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    let h = Harness::memory(&[
        ("AUTHFN_PUBLIC_URL", "https://api.example.com"),
        ("AUTHFN_OAUTH_CLIENTS", "cli,resource-server"),
        ("AUTHFN_JWT_PUBLIC_KEYS", public.as_str()),
    ])
    .await;
    let req = http::Request::post("https://api.example.com/oidc/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(
            b"grant_type=refresh_token&refresh_token=x&client_id=resource-server",
        ))
        .unwrap();
    let (status, body, line) = serve_logged(&h, req).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(line.error, Some("internal_error"));
    assert!(line.is_server_error());
    let cause = line.cause.as_deref().unwrap_or_default();
    assert!(cause.contains("AUTHFN_JWT_KEYS"), "{cause}");
    assert!(!body.contains("AUTHFN_JWT_KEYS"), "{body}");
}
