//! authfn as a token issuer for CLI and mobile clients, over HTTP: the device authorization
//! grant (RFC 8628), JWT access tokens, rotating refresh tokens with reuse detection,
//! introspection and revocation. The deployment under test is configured (tests/run.sh, see
//! tests/support/oauth.sh) with a public client `cli`, a confidential client `resource-server`
//! whose secret is in AUTHFN_TEST_RESOURCE_SERVER_SECRET, and a 1-second polling interval.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
use std::time::Duration;

use authfn_blackbox::{Api, Auth, Endpoint, Reply, SessionCookie, unique_email};
use serde_json::Value;

const CLIENT: &str = "cli";
const SCOPE: &str = "openid offline_access";
const PASSWORD: &str = "correct horse battery";

fn api() -> Api {
    Api::from_env()
}

fn resource_server_secret() -> String {
    std::env::var("AUTHFN_TEST_RESOURCE_SERVER_SECRET")
        .expect("AUTHFN_TEST_RESOURCE_SERVER_SECRET (tests/run.sh sets it)")
}

/// Waits out the configured polling interval (1 s in the test deployment).
async fn interval() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

async fn authorize(api: &Api) -> Value {
    authorize_scope(api, SCOPE).await
}

async fn authorize_scope(api: &Api, scope: &str) -> Value {
    let reply = api
        .post_form(
            Endpoint::DeviceAuthorize,
            Auth::None,
            None,
            &[("client_id", CLIENT), ("scope", scope)],
        )
        .await;
    reply.expect_status(200);
    reply.json()
}

async fn poll(api: &Api, device_code: &str) -> Reply {
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    api.post_form(
        Endpoint::Token,
        Auth::None,
        None,
        &[
            ("grant_type", grant),
            ("device_code", device_code),
            ("client_id", CLIENT),
        ],
    )
    .await
}

async fn refresh(api: &Api, token: &str) -> Reply {
    api.post_form(
        Endpoint::Token,
        Auth::None,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT),
        ],
    )
    .await
}

/// The signed-in user answers on the device page, as its form would post.
async fn answer(api: &Api, cookie: &SessionCookie, user_code: &str, decision: &str) -> Reply {
    let origin = api.trusted_origin().to_owned();
    api.post_form(
        Endpoint::DeviceVerify,
        Auth::Cookie(cookie),
        Some(&origin),
        &[("user_code", user_code), ("decision", decision)],
    )
    .await
}

async fn introspect(api: &Api, token: &str) -> Value {
    let secret = resource_server_secret();
    let reply = api
        .post_form(
            Endpoint::Introspect,
            Auth::None,
            None,
            &[
                ("token", token),
                ("client_id", "resource-server"),
                ("client_secret", &secret),
            ],
        )
        .await;
    reply.expect_status(200);
    reply.json()
}

/// Signs a user up, runs the device flow to the end, and returns (user id, token response).
async fn device_tokens(api: &Api) -> (String, Value) {
    let (user_id, _, tokens) = signed_in_device(api).await;
    (user_id, tokens)
}

/// As [`device_tokens`], with the browser session that approved the device.
async fn signed_in_device(api: &Api) -> (String, SessionCookie, Value) {
    let signed_up = api.sign_up(&unique_email("device"), PASSWORD).await;
    signed_up.expect_status(200);
    let user_id = signed_up.json()["user_id"].as_str().unwrap().to_owned();
    let cookie = signed_up.session_cookie();
    let auth = authorize(api).await;
    answer(api, &cookie, auth["user_code"].as_str().unwrap(), "approve")
        .await
        .expect_status(200);
    let tokens = poll(api, auth["device_code"].as_str().unwrap()).await;
    tokens.expect_status(200);
    (user_id, cookie, tokens.json())
}

fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("JSON")
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn the_device_flow_from_code_to_tokens() {
    let api = api();
    let auth = authorize(&api).await;
    let user_code = auth["user_code"].as_str().unwrap().to_owned();
    assert!(
        user_code.len() == 9
            && user_code.as_bytes()[4] == b'-'
            && user_code
                .replace('-', "")
                .bytes()
                .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)),
        "{user_code}"
    );
    assert!(
        auth["verification_uri"]
            .as_str()
            .unwrap()
            .ends_with("/oidc/device")
    );
    assert!(
        auth["verification_uri_complete"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?user_code={user_code}"))
    );
    assert_eq!(
        (auth["expires_in"].as_i64(), auth["interval"].as_i64()),
        (Some(600), Some(1))
    );
    let device_code = auth["device_code"].as_str().unwrap();

    let pending = poll(&api, device_code).await;
    pending.expect_error(400, "authorization_pending");
    assert_eq!(pending.header("cache-control"), Some("no-store"));

    // The page: signed out, it sends the user to sign in and back here.
    let signed_out = api
        .get_query(
            Endpoint::DevicePage,
            Auth::None,
            &[("user_code", &user_code)],
        )
        .await;
    assert_eq!(signed_out.status, 401);
    assert!(
        signed_out.text().contains("return_to="),
        "{}",
        signed_out.text()
    );
    // Signed in, it shows the client and scopes, and cannot be framed. The code is accepted
    // in lower case and without its dash.
    let cookie = api.signed_up(&unique_email("device-page"), PASSWORD).await;
    let typed = user_code.replace('-', "").to_lowercase();
    let page = api
        .get_query(
            Endpoint::DevicePage,
            Auth::Cookie(&cookie),
            &[("user_code", &typed)],
        )
        .await;
    page.expect_status(200);
    assert!(
        page.text().contains(CLIENT) && page.text().contains("offline_access"),
        "{}",
        page.text()
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));

    // A cross-site form cannot answer for the user.
    let forged = api
        .post_form(
            Endpoint::DeviceVerify,
            Auth::Cookie(&cookie),
            Some("https://evil.example"),
            &[("user_code", &user_code), ("decision", "approve")],
        )
        .await;
    forged.expect_error(403, "csrf_rejected");

    answer(&api, &cookie, &user_code, "approve")
        .await
        .expect_status(200);
    interval().await;
    let tokens = poll(&api, device_code).await;
    tokens.expect_status(200);
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], SCOPE);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_part(access, 0)["alg"], "EdDSA");
    let claims = jwt_part(access, 1);
    assert_eq!(claims["client_id"], CLIENT);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 600);
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string());

    // Its key is published.
    let jwks = api.get(Endpoint::Jwks, Auth::None).await;
    jwks.expect_status(200);
    let kid = jwt_part(access, 0)["kid"].clone();
    assert!(
        jwks.json()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid)
    );
    assert!(jwks.header("cache-control").unwrap().starts_with("public"));

    // The access token opens the example protected route, as it would your own API.
    let me = api.get(Endpoint::Me, Auth::Bearer(access)).await;
    me.expect_status(200);
    assert_eq!(me.json()["user_id"], claims["sub"]);
    assert_eq!(me.json()["scope"], SCOPE);
    // One signature character changed (not the last, whose low bits are padding).
    let mut forged: Vec<char> = access.chars().collect();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let refused = api.get(Endpoint::Me, Auth::Bearer(&forged)).await;
    refused.expect_error(401, "invalid_token");
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer ") && c.contains("error=\"invalid_token\""))
    );

    // Tokens are issued once per approval.
    interval().await;
    poll(&api, device_code)
        .await
        .expect_error(400, "invalid_grant");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn polling_too_fast_slows_the_client_down_for_good() {
    let api = api();
    let auth = authorize(&api).await;
    let code = auth["device_code"].as_str().unwrap();
    poll(&api, code)
        .await
        .expect_error(400, "authorization_pending");
    // The server keeps poll times in whole seconds: with the suite's 1 s interval, two polls
    // back to back can straddle a second's edge and count as one interval apart. The next
    // back-to-back poll then lands inside the same second.
    let second = poll(&api, code).await;
    if second.json()["error"] == "authorization_pending" {
        poll(&api, code).await.expect_error(400, "slow_down");
    } else {
        second.expect_error(400, "slow_down");
    }
    // The interval is now 1 + 5 s: waiting the old one is still too fast.
    interval().await;
    poll(&api, code).await.expect_error(400, "slow_down");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn a_denied_request_gets_no_tokens() {
    let api = api();
    let auth = authorize(&api).await;
    let cookie = api.signed_up(&unique_email("deny"), PASSWORD).await;
    answer(&api, &cookie, auth["user_code"].as_str().unwrap(), "deny")
        .await
        .expect_status(200);
    poll(&api, auth["device_code"].as_str().unwrap())
        .await
        .expect_error(400, "access_denied");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn of_two_concurrent_approvals_exactly_one_lands() {
    let api = api();
    let auth = authorize(&api).await;
    let code = auth["user_code"].as_str().unwrap().to_owned();
    let cookie = api.signed_up(&unique_email("double"), PASSWORD).await;
    let answers: Vec<_> = (0..4)
        .map(|_| {
            let (api, cookie, code) = (api.clone(), cookie.clone(), code.clone());
            tokio::spawn(async move { answer(&api, &cookie, &code, "approve").await.status })
        })
        .collect();
    let mut approved = 0;
    for a in answers {
        let status = a.await.unwrap();
        assert!(matches!(status, 200 | 400 | 409), "{status}");
        approved += usize::from(status == 200);
    }
    assert_eq!(approved, 1);
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let api = api();
    let (user_id, first) = device_tokens(&api).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = refresh(&api, r1).await;
    second.expect_status(200);
    let second = second.json();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(
        jwt_part(second["access_token"].as_str().unwrap(), 1)["sub"],
        user_id.as_str()
    );

    // An introspecting resource server sees the new tokens as active.
    assert_eq!(introspect(&api, r2).await["active"], true);
    let access = introspect(&api, second["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (access["active"].as_bool(), access["sub"].as_str()),
        (Some(true), Some(user_id.as_str()))
    );

    // The stolen old token comes back: refused, and the whole family with it.
    refresh(&api, r1).await.expect_error(400, "invalid_grant");
    refresh(&api, r2).await.expect_error(400, "invalid_grant");
    assert_eq!(introspect(&api, r2).await["active"], false);
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn parallel_refreshes_of_one_token_succeed_once() {
    let api = api();
    let (_, tokens) = device_tokens(&api).await;
    let token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (api, token) = (api.clone(), token.clone());
            tokio::spawn(async move { refresh(&api, &token).await.status })
        })
        .collect();
    let mut ok = 0;
    for r in racers {
        ok += usize::from(r.await.unwrap() == 200);
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn signing_out_everywhere_ends_device_sign_ins_too() {
    let api = api();
    let (_, cookie, tokens) = signed_in_device(&api).await;
    // One rotation first: the family, not just the token the device was first given, ends.
    let rotated = refresh(&api, tokens["refresh_token"].as_str().unwrap()).await;
    rotated.expect_status(200);
    let token = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&api, &token).await["active"], true);

    api.browser_post(Endpoint::SignOutAll, &cookie, api.trusted_origin(), None)
        .await
        .expect_status(204);
    assert_eq!(introspect(&api, &token).await["active"], false);
    refresh(&api, &token)
        .await
        .expect_error(400, "invalid_grant");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn a_revoked_refresh_token_is_dead() {
    let api = api();
    let (_, tokens) = device_tokens(&api).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    api.post_form(
        Endpoint::Revoke,
        Auth::None,
        None,
        &[("token", token), ("client_id", CLIENT)],
    )
    .await
    .expect_status(200);
    refresh(&api, token)
        .await
        .expect_error(400, "invalid_grant");
    // Revoking an unknown token is not an error (RFC 7009 §2.2).
    api.post_form(
        Endpoint::Revoke,
        Auth::None,
        None,
        &[("token", "nonsense"), ("client_id", CLIENT)],
    )
    .await
    .expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn clients_and_grants_are_checked() {
    let api = api();
    let unknown = api
        .post_form(
            Endpoint::DeviceAuthorize,
            Auth::None,
            None,
            &[("client_id", "nobody")],
        )
        .await;
    unknown.expect_error(401, "invalid_client");
    let scope = api
        .post_form(
            Endpoint::DeviceAuthorize,
            Auth::None,
            None,
            &[("client_id", CLIENT), ("scope", "admin")],
        )
        .await;
    scope.expect_error(400, "invalid_scope");
    let grant = api
        .post_form(
            Endpoint::Token,
            Auth::None,
            None,
            &[("grant_type", "password"), ("client_id", CLIENT)],
        )
        .await;
    grant.expect_error(400, "unsupported_grant_type");
    assert!(grant.json()["error_description"].is_string());
    poll(&api, "not-a-device-code")
        .await
        .expect_error(400, "invalid_grant");
    // Only confidential clients may introspect.
    let public = api
        .post_form(
            Endpoint::Introspect,
            Auth::None,
            None,
            &[("token", "x"), ("client_id", CLIENT)],
        )
        .await;
    public.expect_error(401, "invalid_client");
    let wrong = api
        .post_form(
            Endpoint::Introspect,
            Auth::None,
            None,
            &[
                ("token", "x"),
                ("client_id", "resource-server"),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    wrong.expect_error(401, "invalid_client");
    assert_eq!(introspect(&api, "not-a-token").await["active"], false);
}

/// Signs a new user up and runs the device flow for `scope`: (email, token response).
async fn tokens_for_scope(api: &Api, scope: &str) -> (String, Value) {
    let email = unique_email("userinfo");
    let cookie = api.signed_up(&email, PASSWORD).await;
    let auth = authorize_scope(api, scope).await;
    answer(api, &cookie, auth["user_code"].as_str().unwrap(), "approve")
        .await
        .expect_status(200);
    let tokens = poll(api, auth["device_code"].as_str().unwrap()).await;
    tokens.expect_status(200);
    (email, tokens.json())
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn userinfo_answers_what_the_granted_scopes_allow() {
    let api = api();
    let discovery = api.get(Endpoint::OpenIdConfiguration, Auth::None).await;
    discovery.expect_status(200);
    let discovery = discovery.json();
    assert!(
        discovery["userinfo_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oidc/userinfo")
    );
    assert!(
        !discovery["response_types_supported"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The test deployment has an RSA key (tests/support/oauth.sh): ID tokens are RS256, the
    // algorithm every OpenID Connect client accepts, and its key is published.
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "RS256"
    );
    let (email, tokens) = tokens_for_scope(&api, "openid email").await;
    let access = tokens["access_token"].as_str().unwrap();
    let id_header = jwt_part(tokens["id_token"].as_str().unwrap(), 0);
    assert_eq!(id_header["alg"], "RS256");
    let jwks = api.get(Endpoint::Jwks, Auth::None).await.json();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == id_header["kid"] && k["kty"] == "RSA"),
        "{jwks}"
    );
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["email"].as_str(), Some(email.as_str()));
    assert_eq!(
        id_token["email_verified"], true,
        "the sign-up proved the address by its mailed link"
    );
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let reply = api
            .send(api.request(method.clone(), Endpoint::Userinfo, Auth::Bearer(access)))
            .await;
        reply.expect_status(200);
        let claims = reply.json();
        assert_eq!(claims["sub"], jwt_part(access, 1)["sub"], "{method}");
        assert_eq!(
            (claims["email"].as_str(), claims["email_verified"].as_bool()),
            (Some(email.as_str()), Some(true)),
            "{method}"
        );
    }

    let (_, plain) = tokens_for_scope(&api, "openid").await;
    let reply = api
        .get(
            Endpoint::Userinfo,
            Auth::Bearer(plain["access_token"].as_str().unwrap()),
        )
        .await;
    reply.expect_status(200);
    assert!(reply.json().get("email").is_none(), "{}", reply.text());
    assert!(
        jwt_part(plain["id_token"].as_str().unwrap(), 1)
            .get("email")
            .is_none()
    );
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn userinfo_refuses_a_missing_bad_or_unscoped_token() {
    let api = api();
    let missing = api.get(Endpoint::Userinfo, Auth::None).await;
    missing.expect_status(401);
    assert!(
        missing
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer ")),
        "{:?}",
        missing.header("www-authenticate")
    );
    let bad = api
        .get(
            Endpoint::Userinfo,
            Auth::Bearer("eyJhbGciOiJFZERTQSJ9.e30.AAAA"),
        )
        .await;
    bad.expect_error(401, "invalid_token");
    assert!(
        bad.header("www-authenticate")
            .is_some_and(|c| c.contains("error=\"invalid_token\""))
    );
    let (_, unscoped) = tokens_for_scope(&api, "email").await;
    let reply = api
        .get(
            Endpoint::Userinfo,
            Auth::Bearer(unscoped["access_token"].as_str().unwrap()),
        )
        .await;
    reply.expect_error(403, "insufficient_scope");
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|c| c.contains("error=\"insufficient_scope\""))
    );
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn failed_client_authentication_is_challenged_and_a_malformed_basic_header_is_not_ignored() {
    let api = api();
    let secret = resource_server_secret();
    let form = [
        ("token", "x"),
        ("client_id", "resource-server"),
        ("client_secret", secret.as_str()),
    ];
    let wrong = api
        .post_form(
            Endpoint::Introspect,
            Auth::None,
            None,
            &[
                ("token", "x"),
                ("client_id", "resource-server"),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    wrong.expect_error(401, "invalid_client");
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Basic ")),
        "{:?}",
        wrong.header("www-authenticate")
    );
    let malformed = api
        .request(reqwest::Method::POST, Endpoint::Introspect, Auth::None)
        .header("authorization", "Basic !!!")
        .form(&form);
    api.send(malformed)
        .await
        .expect_error(401, "invalid_client");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn polls_racing_the_approval_never_make_it_fail() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let api = api();
    let cookie = api.signed_up(&unique_email("race-poll"), PASSWORD).await;
    // Bounded: every poll counts against the suite's per-IP budget on the token endpoint.
    for round in 0..5 {
        let auth = authorize(&api).await;
        let device_code = auth["device_code"].as_str().unwrap().to_owned();
        // Copies of a device poll every few milliseconds (every poll past the first is a
        // `slow_down`, which writes the record too) until the user has answered.
        let answered = Arc::new(AtomicBool::new(false));
        let pollers: Vec<_> = (0..4)
            .map(|_| {
                let (api, code, answered) =
                    (api.clone(), device_code.clone(), Arc::clone(&answered));
                tokio::spawn(async move {
                    for _ in 0..20 {
                        if answered.load(Ordering::SeqCst) {
                            break;
                        }
                        poll(&api, &code).await;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let approved = answer(
            &api,
            &cookie,
            auth["user_code"].as_str().unwrap(),
            "approve",
        )
        .await;
        answered.store(true, Ordering::SeqCst);
        for p in pollers {
            p.await.unwrap();
        }
        assert_eq!(approved.status, 200, "round {round}: {}", approved.text());
    }
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn signing_out_everywhere_after_approving_stops_the_device() {
    let api = api();
    let cookie = api.signed_up(&unique_email("phished"), PASSWORD).await;
    let auth = authorize(&api).await;
    answer(
        &api,
        &cookie,
        auth["user_code"].as_str().unwrap(),
        "approve",
    )
    .await
    .expect_status(200);
    // The code was someone else's: the user signs out everywhere before the device polls.
    api.browser_post(Endpoint::SignOutAll, &cookie, api.trusted_origin(), None)
        .await
        .expect_status(204);
    poll(&api, auth["device_code"].as_str().unwrap())
        .await
        .expect_error(400, "access_denied");
}

#[tokio::test]
#[ignore = "needs a running authfn with OAuth clients (tests/run.sh)"]
async fn the_device_page_warns_and_says_when_and_from_where() {
    let api = api();
    let auth = authorize(&api).await;
    let cookie = api.signed_up(&unique_email("page"), PASSWORD).await;
    let page = api
        .get_query(
            Endpoint::DevicePage,
            Auth::Cookie(&cookie),
            &[("user_code", auth["user_code"].as_str().unwrap())],
        )
        .await;
    page.expect_status(200);
    let text = page.text();
    assert!(
        text.contains("The request was made")
            && text.contains("ago (at ")
            && text.contains("from the network"),
        "{text}"
    );
    assert!(
        text.contains("Only approve a code you started yourself"),
        "{text}"
    );
}
