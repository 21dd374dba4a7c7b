//! Access tokens live for their configured lifetime by the issuer's clock, to the second:
//! userinfo, introspection and a protected route accept one until then and refuse it after.
//! Driven through `App::handle` with the manual clock, over each store.
#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

mod support;

use http::StatusCode;
use support::issuer::*;
use support::*;

for_each_store!(
    userinfo_accepts_an_access_token_until_it_expires,
    introspection_says_an_access_token_is_active_until_it_expires,
    a_protected_route_accepts_an_access_token_until_it_expires,
    the_configured_lifetime_is_the_one_the_clock_enforces,
    after_expiry_a_refresh_gets_a_working_access_token,
);

async fn userinfo_accepts_an_access_token_until_it_expires(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("ada@example.com", "openid email").await;
    h.wait(ACCESS_TOKEN_SECS - 1);
    assert_eq!(
        h.userinfo(tokens.access()).await.status,
        StatusCode::OK,
        "alive one second before"
    );
    h.wait(1);
    let expired = h.userinfo(tokens.access()).await;
    assert_eq!(expired.error(), (401, "invalid_token"), "{}", expired.text);
    let challenge = expired.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}

async fn introspection_says_an_access_token_is_active_until_it_expires(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("bob@example.com", "openid").await;
    let active = h.introspect(tokens.access()).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(
        active["exp"],
        h.now() + i64::try_from(ACCESS_TOKEN_SECS).unwrap()
    );
    assert_eq!(active["client_id"], "cli");
    h.wait(ACCESS_TOKEN_SECS - 1);
    assert_eq!(h.introspect(tokens.access()).await["active"], true);
    h.wait(1);
    // RFC 7662 §2.2: nothing but `active` for a token that is not.
    assert_eq!(
        h.introspect(tokens.access()).await,
        serde_json::json!({ "active": false })
    );
}

async fn a_protected_route_accepts_an_access_token_until_it_expires(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("cy@example.com", "openid").await;
    let authorization = format!("Bearer {}", tokens.access());
    let me = || {
        h.request(
            "GET",
            "/me",
            vec![],
            None,
            None,
            vec![("authorization", authorization.as_str())],
        )
    };
    let res = me().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["client_id"], "cli");
    h.wait(ACCESS_TOKEN_SECS);
    assert_eq!(me().await.error(), (401, "invalid_token"));
}

async fn the_configured_lifetime_is_the_one_the_clock_enforces(h: Harness) {
    let h = h.issuer(&[("AUTHFN_ACCESS_TOKEN_SECS", "60")]);
    let tokens = h
        .device_tokens("short@example.com", "openid offline_access")
        .await;
    assert_eq!(tokens.0["expires_in"], 60);
    assert_eq!(jwt_part(tokens.access(), 1)["exp"], h.now() + 60);
    h.wait(59);
    assert_eq!(h.userinfo(tokens.access()).await.status, StatusCode::OK);
    h.wait(1);
    assert_eq!(
        h.userinfo(tokens.access()).await.error(),
        (401, "invalid_token")
    );
}

async fn after_expiry_a_refresh_gets_a_working_access_token(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h
        .device_tokens("renew@example.com", "openid offline_access")
        .await;
    h.wait(ACCESS_TOKEN_SECS);
    assert_eq!(
        h.userinfo(tokens.access()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let renewed = h.refresh(tokens.refresh()).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    let access = renewed.json["access_token"].as_str().unwrap();
    assert_eq!(h.userinfo(access).await.status, StatusCode::OK);
    h.wait(ACCESS_TOKEN_SECS);
    assert_eq!(
        h.userinfo(access).await.status,
        StatusCode::UNAUTHORIZED,
        "its own lifetime, from the refresh"
    );
}

/// The issuer's JWKS as a resource server fetches it: over "HTTP" to the issuer's own app.
struct IssuerOverHttp(std::sync::Arc<Harness>);

#[async_trait::async_trait]
impl authfn::federation::outbound::HttpClient for IssuerOverHttp {
    async fn send(
        &self,
        request: authfn::federation::outbound::OutboundRequest,
    ) -> Result<
        authfn::federation::outbound::OutboundResponse,
        authfn::federation::outbound::OutboundError,
    > {
        let req = http::Request::get(request.url())
            .body(bytes::Bytes::new())
            .unwrap();
        let res = self.0.app.route(req).await;
        Ok(authfn::federation::outbound::OutboundResponse {
            status: res.status().as_u16(),
            body: res.into_body().into_bytes(),
        })
    }
}

#[tokio::test]
async fn a_resource_server_accepts_an_access_token_until_it_expires_by_its_own_clock() {
    let issuer = std::sync::Arc::new(Harness::memory(&[]).await.issuer(&[]));
    let api = Harness::memory(&[("AUTHFN_ACCESS_TOKEN_ISSUER", "https://auth.example.com")])
        .await
        .with_http_client(std::sync::Arc::new(IssuerOverHttp(issuer.clone())));
    let tokens = issuer.device_tokens("rs@example.com", "openid").await;
    let authorization = format!("Bearer {}", tokens.access());
    let me = || {
        api.request(
            "GET",
            "/me",
            vec![],
            None,
            None,
            vec![("authorization", authorization.as_str())],
        )
    };
    let res = me().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["user_id"], jwt_part(tokens.access(), 1)["sub"]);
    api.wait(ACCESS_TOKEN_SECS - 1);
    assert_eq!(
        me().await.status,
        StatusCode::OK,
        "alive one second before, by the resource server's clock"
    );
    api.wait(1);
    assert_eq!(me().await.error(), (401, "invalid_token"));
}
