//! The token issuer's defences, driven through `App::handle` with a manual clock: per-IP
//! budgets that a proxy header or an IPv6 block cannot multiply, a lock on guessing a
//! confidential client's secret, and the device flow's protections against a phished code
//! (RFC 8628 §5.4): user codes at rest only as keyed hashes, an approval that ends with the
//! user's "sign out everywhere", and a device page that says who asked, when and from where.
#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

mod support;

use std::time::Duration;

use authfn::Config;
use authfn::token::TokenHash;
use http::StatusCode;
use support::issuer::{RS_SECRET, issuer_settings};
use support::*;

/// The configured display name the device page shows: markup in it must come out escaped.
const CLIENT_NAMES: (&str, &str) = (
    "AUTHFN_OAUTH_CLIENT_NAMES",
    "cli=Acme <b>CLI</b>, resource-server=Acme API",
);

/// The issuer over a fresh memory store, with `overrides`.
async fn issuer(overrides: &[(&str, &str)]) -> Harness {
    let mut all = vec![CLIENT_NAMES];
    all.extend_from_slice(overrides);
    Harness::memory(&[]).await.issuer(&all)
}

/// A device at `ip` asks for the scopes these tests use.
async fn authorize(h: &Harness, ip: &str) -> serde_json::Value {
    h.device_authorize_from(ip, "openid offline_access").await
}

#[tokio::test]
async fn ipv6_clients_share_one_budget_per_64_and_unreadable_addresses_share_one() {
    let h = Harness::memory(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "1")]).await;
    let sign_in_from = |ip: &'static str| h.sign_in_from(ip, "v6@example.com", "wrong password");
    assert_eq!(
        sign_in_from("2001:db8:1:2::1").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Another address of the same /64 is the same subscriber: no fresh budget.
    assert_eq!(
        sign_in_from("2001:db8:1:2:ffff::9").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in_from("2001:db8:1:3::1").await.status,
        StatusCode::UNAUTHORIZED,
        "another /64"
    );
    // Addresses that cannot be read are not each a budget of their own.
    assert_eq!(
        sign_in_from("not an address").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_from("also-not-one").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_client_address_is_taken_at_the_configured_proxy_hop() {
    // CloudFront → API Gateway: each appends one entry to X-Forwarded-For.
    let h = Harness::memory(&[
        ("AUTHFN_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTHFN_CLIENT_IP_HEADER", "x-forwarded-for"),
        ("AUTHFN_TRUSTED_PROXY_HOPS", "2"),
    ])
    .await;
    let via = |xff: &'static str| {
        h.request(
            "POST",
            "/auth/sign-in",
            creds("hop@example.com", "wrong password"),
            Some(JSON),
            None,
            vec![("x-forwarded-for", xff)],
        )
    };
    assert_eq!(
        via("192.0.2.1, 198.51.100.200").await.status,
        StatusCode::UNAUTHORIZED
    );
    // What the client claims to the left of the trusted entries buys nothing.
    assert_eq!(
        via("10.9.9.9, 192.0.2.1, 198.51.100.201").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        via("192.0.2.2, 198.51.100.200").await.status,
        StatusCode::UNAUTHORIZED,
        "another client"
    );
    // A list shorter than the proxy chain did not come through it: the runtime's view
    // (203.0.113.7) counts, not an entry the client wrote.
    assert_eq!(via("192.0.2.3").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(via("192.0.2.4").await.status, StatusCode::TOO_MANY_REQUESTS);
    // A byte that is not ASCII in the part the client wrote spoils only that entry: the
    // client is still counted as itself, not moved to another budget.
    assert_eq!(
        via("é, 192.0.2.5, 198.51.100.200").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        via("ü, 192.0.2.5, 198.51.100.201").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn proxy_hops_need_the_header_and_a_sane_count() {
    let key = key_b64(1);
    let config = |pairs: &[(&str, &str)]| {
        let mut all = vec![("AUTHFN_SESSION_KEYS", key.as_str())];
        all.extend_from_slice(pairs);
        Config::from_lookup(|k| {
            all.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    };
    assert!(
        config(&[("AUTHFN_TRUSTED_PROXY_HOPS", "2")]).is_err(),
        "hops without a header"
    );
    assert!(
        config(&[
            ("AUTHFN_CLIENT_IP_HEADER", "x-forwarded-for"),
            ("AUTHFN_TRUSTED_PROXY_HOPS", "0")
        ])
        .is_err()
    );
    let ok = config(&[
        ("AUTHFN_CLIENT_IP_HEADER", "x-forwarded-for"),
        ("AUTHFN_TRUSTED_PROXY_HOPS", "2"),
    ])
    .unwrap();
    assert_eq!(ok.trusted_proxy_hops, 2);
    assert_eq!(
        config(&[("AUTHFN_CLIENT_IP_HEADER", "cf-connecting-ip")])
            .unwrap()
            .trusted_proxy_hops,
        1
    );
    // Names as proxies' documentation writes them; a name outside the known set (here a
    // typo, and RFC 7239's `Forwarded`, whose entries are not bare addresses) stops start-up.
    let mixed_case = config(&[("AUTHFN_CLIENT_IP_HEADER", "X-Forwarded-For")]).unwrap();
    assert_eq!(
        mixed_case.client_ip_header.map(|h| h.as_str().to_owned()),
        Some("x-forwarded-for".to_owned())
    );
    for refused in ["x-forwarded-fro", "forwarded", "x-forwarded-for: 1.2.3.4"] {
        let error = config(&[("AUTHFN_CLIENT_IP_HEADER", refused)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("AUTHFN_CLIENT_IP_HEADER") && error.contains("x-real-ip"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn devices_polling_live_codes_at_their_interval_do_not_spend_the_per_ip_budget_but_guessed_codes_do()
 {
    let h = issuer(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "2")]).await;
    // Three devices behind one address (a household NAT: `poll` comes from 203.0.113.7),
    // each polling at its interval.
    let mut codes = Vec::new();
    for ip in ["192.0.2.60", "192.0.2.61", "192.0.2.62"] {
        codes.push(
            authorize(&h, ip).await["device_code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for _ in 0..4 {
        for code in &codes {
            let res = h.poll(code).await;
            assert_eq!(res.json["error"], "authorization_pending", "{}", res.text);
        }
        h.clock.advance(Duration::from_secs(5));
    }
    // Guessed codes from that address are limited.
    assert_eq!(h.poll("guess-1").await.json["error"], "invalid_grant");
    assert_eq!(h.poll("guess-2").await.json["error"], "invalid_grant");
    assert_eq!(
        h.poll("guess-3").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn every_oauth_endpoint_that_takes_a_secret_or_starts_work_has_a_per_ip_budget() {
    let h = issuer(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let cases: [(&str, &[(&str, &str)]); 4] = [
        (
            "/oidc/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "guess"),
                ("client_id", "cli"),
            ],
        ),
        (
            "/oidc/introspect",
            &[
                ("token", "guess"),
                ("client_id", "resource-server"),
                ("client_secret", RS_SECRET),
            ],
        ),
        ("/oidc/revoke", &[("token", "guess"), ("client_id", "cli")]),
        ("/oidc/device/authorize", &[("client_id", "cli")]),
    ];
    for (path, pairs) in cases {
        for _ in 0..2 {
            let res = h.form_from("192.0.2.50", path, pairs, vec![]).await;
            assert_ne!(
                res.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{path}: {}",
                res.text
            );
        }
        let limited = h.form_from("192.0.2.50", path, pairs, vec![]).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(limited.json["error"], "rate_limited");
        assert!(limited.header("retry-after").is_some());
        let elsewhere = h.form_from("192.0.2.51", path, pairs, vec![]).await;
        assert_ne!(
            elsewhere.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}: each client has its own budget"
        );
    }
}

#[tokio::test]
async fn guessing_a_client_secret_locks_out_the_guesser_and_not_the_client() {
    let h = issuer(&[
        ("AUTHFN_LOCKOUT_MAX_FAILURES", "3"),
        ("AUTHFN_LOCKOUT_SECS", "600"),
    ])
    .await;
    let attacker = "192.0.2.66";
    for _ in 0..2 {
        let res = h.introspect_as(attacker, "wrong", "x").await;
        assert_eq!(
            (res.status, res.json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
        assert_eq!(res.header("retry-after"), None);
    }
    let locked = h.introspect_as(attacker, "still wrong", "x").await;
    assert_eq!(
        (locked.status, locked.json["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert_eq!(locked.header("retry-after"), Some("600"));
    assert!(
        locked
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Basic ")),
        "RFC 6749 §5.2: {:?}",
        locked.header("www-authenticate")
    );
    assert!(
        locked.json["error_description"]
            .as_str()
            .unwrap()
            .contains("too many"),
        "{}",
        locked.text
    );
    // While locked, even the right secret is refused from there (no guess is evaluated),
    // and HTTP Basic is counted the same way.
    assert_eq!(
        h.introspect_as(attacker, RS_SECRET, "x")
            .await
            .header("retry-after"),
        Some("600")
    );
    // The resource server itself, elsewhere, is unaffected.
    let genuine = h.introspect_as("198.51.100.10", RS_SECRET, "x").await;
    assert_eq!(genuine.status, StatusCode::OK, "{}", genuine.text);
    h.clock.advance(Duration::from_secs(600));
    assert_eq!(
        h.introspect_as(attacker, RS_SECRET, "x").await.status,
        StatusCode::OK,
        "the lock ends"
    );
}

#[test]
fn weak_client_secrets_are_refused_at_start_up() {
    let settings = issuer_settings();
    for weak in [
        "hunter2",
        "rs-0123456789",
        &"x".repeat(64),
        &RS_SECRET[..40],
    ] {
        let lookup = |k: &str| {
            if k == "AUTHFN_OAUTH_CLIENT_RESOURCE_SERVER_SECRET" {
                return Some(weak.to_owned());
            }
            if k == "AUTHFN_SESSION_KEYS" {
                return Some(key_b64(1));
            }
            settings
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
        };
        let err = Config::from_lookup(lookup).expect_err(weak);
        assert!(
            err.message()
                .contains("AUTHFN_OAUTH_CLIENT_RESOURCE_SERVER_SECRET")
                && err.message().contains("32 random bytes"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn user_codes_are_stored_only_as_keyed_hashes() {
    let h = issuer(&[]).await;
    let auth = authorize(&h, "198.51.100.7").await;
    let code = auth["user_code"].as_str().unwrap().replace('-', "");
    let device_code = auth["device_code"].as_str().unwrap();
    let record = h
        .store
        .device_authorization(
            &TokenHash::of(device_code.as_bytes()),
            authfn::UnixTime(h.now()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        !format!("{record:?}").contains(&code),
        "the record holds the code in clear: {record:?}"
    );
    assert_ne!(
        record.user_code_hash,
        TokenHash::of(code.as_bytes()),
        "a plain hash of 20^8 codes is a lookup table away"
    );
    let now = authfn::UnixTime(h.now());
    assert_eq!(
        h.store
            .device_authorization_by_user_code(&TokenHash::of(code.as_bytes()), now)
            .await
            .unwrap(),
        None
    );
    // The user still finds it by typing the code.
    let cookie = h.sign_up("typist@example.com", PASSWORD).await.cookie();
    let page = h
        .get(&format!("/oidc/device?user_code={code}"), Some(&cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
}

#[tokio::test]
async fn signing_out_everywhere_after_approving_stops_the_device() {
    let h = issuer(&[]).await;
    let cookie = h.sign_up("phished@example.com", PASSWORD).await.cookie();
    let auth = authorize(&h, "192.0.2.99").await;
    let res = h
        .answer(&cookie, auth["user_code"].as_str().unwrap(), "approve")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // The user realises the code was not theirs and signs out everywhere before the
    // attacker's device polls.
    assert_eq!(
        h.post_raw("/auth/sign-out/all", vec![], JSON, Some(&cookie))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let polled = h.poll(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (polled.status, polled.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("access_denied")),
        "{}",
        polled.text
    );
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(
        h.poll(auth["device_code"].as_str().unwrap()).await.json["error"],
        "access_denied",
        "and stays refused"
    );

    // Without the sign-out the same flow gets its tokens.
    let cookie = h.sign_in("phished@example.com", PASSWORD).await.cookie();
    let auth = authorize(&h, "192.0.2.99").await;
    h.answer(&cookie, auth["user_code"].as_str().unwrap(), "approve")
        .await;
    let tokens = h.poll(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
}

#[tokio::test]
async fn the_device_page_says_which_client_asked_when_and_from_where() {
    let h = issuer(&[]).await;
    let auth = authorize(&h, "198.51.100.77").await;
    h.clock.advance(Duration::from_secs(150));
    let cookie = h.sign_up("careful@example.com", PASSWORD).await.cookie();
    let code = auth["user_code"].as_str().unwrap();
    let page = h
        .get(&format!("/oidc/device?user_code={code}"), Some(&cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let text = &page.text;
    assert!(
        text.contains("Acme &lt;b&gt;CLI&lt;/b&gt;"),
        "the configured name, escaped: {text}"
    );
    assert!(!text.contains("<b>CLI</b>"));
    assert!(text.contains("2 minutes ago"), "{text}");
    assert!(
        text.contains("198.51.100.0/24") && !text.contains("198.51.100.77"),
        "a coarse network: {text}"
    );
    assert!(
        text.contains("Only approve a code you started yourself"),
        "{text}"
    );

    let v6 = authorize(&h, "2001:db8:aa:bb:1:2:3:4").await;
    let page = h
        .get(
            &format!(
                "/oidc/device?user_code={}",
                v6["user_code"].as_str().unwrap()
            ),
            Some(&cookie),
        )
        .await;
    assert!(page.text.contains("2001:db8:aa:bb::/64"), "{}", page.text);
}

#[tokio::test]
async fn a_device_polling_as_the_user_approves_never_makes_the_approval_fail() {
    let store = std::sync::Arc::new(authfn::store::MemoryStore::new());
    store.poll_after_each_user_code_lookup();
    let h = Harness::with_store(store, &[]).issuer(&[CLIENT_NAMES]);
    let cookie = h.sign_up("racer@example.com", PASSWORD).await.cookie();
    let auth = authorize(&h, "198.51.100.7").await;
    let res = h
        .answer(&cookie, auth["user_code"].as_str().unwrap(), "approve")
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    h.clock.advance(Duration::from_secs(5));
    let tokens = h.poll(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
}

#[tokio::test]
async fn the_device_page_answers_its_own_failures_with_a_page() {
    let h = issuer(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let cookie = h.sign_up("pager@example.com", PASSWORD).await.cookie();
    let is_page = |res: &support::Res| {
        res.header("content-type") == Some("text/html; charset=utf-8")
            && res.header("x-frame-options") == Some("DENY")
            && res.text.starts_with("<!doctype html>")
    };
    // A link a person followed, with a parameter twice (signed in or not).
    for who in [Some(cookie.as_str()), None] {
        let repeated = h
            .get("/oidc/device?user_code=BCDF-GHJK&user_code=LMNP-QRST", who)
            .await;
        assert_eq!(
            repeated.status,
            StatusCode::BAD_REQUEST,
            "{}",
            repeated.text
        );
        assert!(
            is_page(&repeated),
            "{:?}: {}",
            repeated.header("content-type"),
            repeated.text
        );
        assert!(repeated.text.contains("malformed"), "{}", repeated.text);
    }
    // Too many guessed codes: a page that says to wait, with Retry-After.
    for _ in 0..2 {
        let guess = h.device_page(Some(&cookie), "BCDF-GHJK").await;
        assert_eq!(guess.status, StatusCode::BAD_REQUEST, "{}", guess.text);
    }
    let limited = h.device_page(Some(&cookie), "BCDF-GHJK").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(is_page(&limited), "{}", limited.text);
    assert!(limited.text.contains("Wait a minute"), "{}", limited.text);
    assert!(limited.header("retry-after").is_some());
}
