//! What standards-following OAuth and OpenID Connect clients rely on (issue 13 §6), and the
//! HTTP-layer rules every response keeps (§7): driven through `App::handle` like the
//! behaviour suite, with the token issuer switched on.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
mod support;

use serde_json::Value;
use support::issuer::{FORM, RS_SECRET, jwt_part};
use support::*;

/// A 2048-bit RSA key made for these tests only (`infra/generate-keys.sh --rsa`).
const RSA_KEY: &str = include_str!("data/rsa-id-token-key.b64url");

async fn issuer() -> Harness {
    Harness::memory(&[]).await.issuer(&[])
}

/// The issuer with an RSA key for ID tokens.
async fn rsa_issuer() -> Harness {
    issuer()
        .await
        .reconfigure(&[("AUTHFN_JWT_RSA_KEY", RSA_KEY.trim())])
}

#[tokio::test]
async fn userinfo_returns_the_claims_the_granted_scopes_promise() {
    let h = issuer().await;
    let with_email = h.device_tokens("ada@example.com", "openid email").await;
    let bearer = format!("Bearer {}", with_email.access());
    let sub = jwt_part(with_email.access(), 1)["sub"].clone();
    for method in ["GET", "POST"] {
        let res = h.userinfo_with(method, Some(&bearer)).await;
        assert_eq!(res.status, 200, "{method}: {}", res.text);
        assert_eq!(res.json["sub"], sub);
        assert_eq!(res.json["email"], "ada@example.com");
        // A password sign-up, proven by the mailed link.
        assert_eq!(res.json["email_verified"], true);
    }
    let without_email = h.device_tokens("bob@example.com", "openid profile").await;
    let res = h.userinfo(without_email.access()).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(
        res.json.get("email").is_none() && res.json.get("email_verified").is_none(),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn the_id_token_carries_the_email_only_when_it_was_granted() {
    let h = issuer().await;
    let with_email = h.device_tokens("ada@example.com", "openid email").await;
    let id = jwt_part(with_email.id(), 1);
    assert_eq!(
        (id["email"].as_str(), id["email_verified"].as_bool()),
        (Some("ada@example.com"), Some(true))
    );
    let without = h.device_tokens("bob@example.com", "openid").await;
    let id = jwt_part(without.id(), 1);
    assert!(
        id.get("email").is_none() && id.get("email_verified").is_none(),
        "{id}"
    );
}

#[tokio::test]
async fn userinfo_refuses_bad_tokens_with_a_bearer_challenge() {
    let h = issuer().await;
    let none = h.userinfo_with("GET", None).await;
    assert_eq!(
        (none.status.as_u16(), none.header("www-authenticate")),
        (401, Some("Bearer realm=\"authfn\""))
    );
    for bad in [
        "Bearer opaque-not-a-jwt",
        "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA",
    ] {
        let res = h.userinfo_with("GET", Some(bad)).await;
        assert_eq!(
            (res.status.as_u16(), res.json["error"].as_str()),
            (401, Some("invalid_token")),
            "{bad}: {}",
            res.text
        );
        let challenge = res.header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
    }
    // A token issued without `openid` may not read the user's claims.
    let no_openid = h.device_tokens("cy@example.com", "email").await;
    let res = h.userinfo(no_openid.access()).await;
    assert_eq!(
        (res.status.as_u16(), res.json["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{}",
        res.text
    );
    assert!(
        res.header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
}

#[tokio::test]
async fn discovery_is_what_strict_openid_clients_accept() {
    let h = issuer().await;
    let res = h.get("/.well-known/openid-configuration", None).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json["userinfo_endpoint"],
        "https://auth.example.com/oidc/userinfo"
    );
    assert!(
        !res.json["response_types_supported"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        res.json["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "email_verified")
    );
}

#[tokio::test]
async fn with_an_rsa_key_id_tokens_are_rs256_and_verify_against_the_jwks() {
    let h = rsa_issuer().await;
    let discovery = h.get("/.well-known/openid-configuration", None).await.json;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "EdDSA"])
    );
    let tokens = h.device_tokens("ada@example.com", "openid email").await;
    let id_token = tokens.id();
    let header = jwt_part(id_token, 0);
    assert_eq!(header["alg"], "RS256");
    // Access tokens stay EdDSA.
    assert_eq!(jwt_part(tokens.access(), 0)["alg"], "EdDSA");

    let jwks = h.get("/.well-known/jwks.json", None).await.json;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the ID token's key is published");
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    assert!(
        jwk.get("d").is_none() && jwk.get("p").is_none(),
        "no private part: {jwk}"
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["cli"]);
    validation.set_issuer(&["https://auth.example.com"]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("verifies with the published key")
        .claims;
    assert_eq!(claims["email"], "ada@example.com");
}

#[tokio::test]
async fn without_an_rsa_key_discovery_promises_only_eddsa() {
    let h = issuer().await;
    let discovery = h.get("/.well-known/openid-configuration", None).await.json;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
    let tokens = h.device_tokens("ada@example.com", "openid").await;
    assert_eq!(jwt_part(tokens.id(), 0)["alg"], "EdDSA");
}

#[tokio::test]
async fn a_short_or_malformed_rsa_key_is_a_configuration_error() {
    use authfn::Config;
    let base = [
        ("AUTHFN_SESSION_KEYS", key_b64(1)),
        ("AUTHFN_PUBLIC_URL", "https://api.example.com".to_owned()),
        ("AUTHFN_OAUTH_CLIENTS", "cli".to_owned()),
        ("AUTHFN_JWT_KEYS", key_b64(2)),
    ];
    let with = |rsa: &str| {
        let rsa = rsa.to_owned();
        let base = base.clone();
        Config::from_lookup(move |k| {
            if k == "AUTHFN_JWT_RSA_KEY" {
                Some(rsa.clone())
            } else {
                base.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
            }
        })
    };
    assert!(with(RSA_KEY.trim()).is_ok());
    assert!(with("not-a-key").is_err());
    // A 1024-bit key: too short.
    assert!(
        with(include_str!("data/rsa-1024-key.b64url").trim())
            .unwrap_err()
            .message()
            .contains("2048")
    );
}

#[tokio::test]
async fn failed_client_authentication_gets_a_basic_challenge() {
    let h = issuer().await;
    let wrong = h
        .form(
            "/oidc/introspect",
            &[
                ("token", "x"),
                ("client_id", "resource-server"),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.json["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm="),
        "{:?}",
        wrong.header("www-authenticate")
    );
}

#[tokio::test]
async fn a_malformed_basic_header_is_invalid_client_not_ignored() {
    let h = issuer().await;
    let good = format!(
        "Basic {}",
        base64_std(&format!("resource-server:{RS_SECRET}"))
    );
    let ok = h
        .form_from(
            CLIENT_IP,
            "/oidc/introspect",
            &[("token", "x")],
            vec![("authorization", &good)],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Each would otherwise fall back to the form's client_id and client_secret, which are right.
    let form = [
        ("token", "x"),
        ("client_id", "resource-server"),
        ("client_secret", RS_SECRET),
    ];
    let no_colon = format!("Basic {}", base64_std("resource-server"));
    for bad in [
        "Basic !!!not-base64",
        "Basic",
        no_colon.as_str(),
        "Basic Og==",
    ] {
        let res = h
            .form_from(
                CLIENT_IP,
                "/oidc/introspect",
                &form,
                vec![("authorization", bad)],
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.json["error"].as_str()),
            (401, Some("invalid_client")),
            "{bad}: {}",
            res.text
        );
    }
}

#[tokio::test]
async fn session_401s_carry_a_challenge_too() {
    let h = issuer().await;
    let res = h.get("/auth/session", None).await;
    assert_eq!(
        (res.status.as_u16(), res.header("www-authenticate")),
        (401, Some("Bearer realm=\"authfn\""))
    );
    // The device page renders its own 401 (HTML with a sign-in link): challenged all the same.
    let page = h.get("/oidc/device", None).await;
    assert_eq!(
        (page.status.as_u16(), page.header("www-authenticate")),
        (401, Some("Bearer realm=\"authfn\""))
    );
}

#[tokio::test]
async fn oauth_endpoints_answer_transport_errors_in_rfc_6749_form() {
    let h = issuer().await;
    let big = vec![b'a'; 20 * 1024];
    let cases = [
        (
            "GET /oidc/token",
            h.request("GET", "/oidc/token", vec![], None, None, vec![])
                .await,
            405,
            "method_not_allowed",
        ),
        (
            "415",
            h.request(
                "POST",
                "/oidc/token",
                b"{}".to_vec(),
                Some(JSON),
                None,
                vec![],
            )
            .await,
            415,
            "unsupported_media_type",
        ),
        (
            "413",
            h.request("POST", "/oidc/introspect", big, Some(FORM), None, vec![])
                .await,
            413,
            "payload_too_large",
        ),
        (
            "cross-site",
            h.request(
                "POST",
                "/oidc/device/verify",
                b"user_code=x".to_vec(),
                Some(FORM),
                None,
                vec![("origin", "https://evil.example")],
            )
            .await,
            403,
            "csrf_rejected",
        ),
    ];
    for (what, res, status, code) in cases {
        assert_eq!(
            (res.status.as_u16(), res.json["error"].as_str()),
            (status, Some(code)),
            "{what}: {}",
            res.text
        );
        assert!(
            res.json["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {}",
            res.text
        );
    }
    // The session API keeps its own shape.
    let res = h
        .request(
            "POST",
            "/auth/sign-in",
            b"x".to_vec(),
            Some("text/plain"),
            None,
            vec![],
        )
        .await;
    assert_eq!(res.status, 415);
    assert!(res.json.get("error_description").is_none(), "{}", res.text);
}

#[tokio::test]
async fn an_overlong_uri_is_a_json_414() {
    let h = issuer().await;
    for path in ["/auth/session", "/oidc/userinfo", "/nowhere"] {
        let res = h.get(&format!("{path}?x={}", "a".repeat(9000)), None).await;
        assert_eq!(
            (res.status.as_u16(), res.json["error"].as_str()),
            (414, Some("uri_too_long")),
            "{path}: {}",
            res.text
        );
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    }
    assert_eq!(
        h.get(&format!("/auth/session?x={}", "a".repeat(4000)), None)
            .await
            .status,
        401,
        "long, but not too long"
    );
}

#[tokio::test]
async fn every_response_says_nosniff_and_hsts_follows_the_setting() {
    let h = issuer().await;
    let preflight = h
        .request(
            "OPTIONS",
            "/auth/sign-in",
            vec![],
            None,
            None,
            vec![
                ("origin", TRUSTED_ORIGIN),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    let answers = [
        h.get("/.well-known/jwks.json", None).await,
        h.get("/auth/session", None).await,
        h.get("/nowhere", None).await,
        h.sign_up("ada@example.com", PASSWORD).await,
        preflight,
    ];
    for res in &answers {
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{} {}",
            res.status,
            res.text
        );
        // Secure cookies: served over HTTPS, so HSTS by default.
        assert_eq!(
            res.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{}",
            res.status
        );
    }
    let off = h.reconfigure(&[("AUTHFN_HSTS", "off")]);
    assert_eq!(
        off.get("/auth/session", None)
            .await
            .header("strict-transport-security"),
        None
    );
    let short = h.reconfigure(&[("AUTHFN_HSTS", "300")]);
    assert_eq!(
        short
            .get("/auth/session", None)
            .await
            .header("strict-transport-security"),
        Some("max-age=300")
    );
}

#[tokio::test]
async fn without_origin_only_a_same_origin_browser_request_changes_state() {
    let h = issuer().await;
    let cookie = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    let sign_out = |site: &'static str| {
        h.request(
            "POST",
            "/auth/sign-out",
            b"{}".to_vec(),
            Some(JSON),
            Some(&cookie),
            vec![("sec-fetch-site", site)],
        )
    };
    assert_eq!(sign_out("same-site").await.status, 403);
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        200,
        "still signed in"
    );
    assert_eq!(sign_out("same-origin").await.status, 204);
    // CLI clients send neither Origin nor Sec-Fetch-* nor a cookie: unaffected.
    let bearer = h
        .request(
            "POST",
            "/auth/sign-in",
            creds("ada@example.com", PASSWORD),
            Some(JSON),
            None,
            vec![],
        )
        .await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
}

fn base64_std(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The RSA key's public half as `infra/generate-keys.sh --rsa-public` prints it.
fn rsa_public_half(private: &str) -> String {
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
    let key =
        rsa::RsaPrivateKey::from_pkcs1_der(&authfn::crypto::b64url_decode(private.trim()).unwrap())
            .unwrap();
    authfn::crypto::b64url(key.to_public_key().to_pkcs1_der().unwrap().as_bytes())
}

#[tokio::test]
async fn the_functions_that_only_publish_keys_publish_the_rsa_key_from_its_public_half() {
    let signing = rsa_issuer().await;
    let ed_public = authfn::oauth::keys::JwtKeys::parse(&key_b64(5))
        .unwrap()
        .jwks()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    let publishing = Harness::memory(&[
        ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
        ("AUTHFN_OAUTH_CLIENTS", "cli"),
        ("AUTHFN_JWT_PUBLIC_KEYS", &ed_public),
        ("AUTHFN_JWT_RSA_PUBLIC_KEY", &rsa_public_half(RSA_KEY)),
    ])
    .await;
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let (published, signed) = (
            publishing.get(path, None).await,
            signing.get(path, None).await,
        );
        assert_eq!(published.status, 200, "{path}: {}", published.text);
        assert_eq!(
            published.json, signed.json,
            "{path}: what the signing functions would publish"
        );
    }
    // A public half that is not the signing key's is refused where both are given.
    let other = include_str!("data/rsa-other-public-key.b64url")
        .trim()
        .to_owned();
    let config = authfn::Config::from_lookup(|k| match k {
        "AUTHFN_SESSION_KEYS" => Some(key_b64(1)),
        "AUTHFN_PUBLIC_URL" => Some("https://api.example.com".into()),
        "AUTHFN_OAUTH_CLIENTS" => Some("cli".into()),
        "AUTHFN_JWT_KEYS" => Some(key_b64(7)),
        "AUTHFN_JWT_RSA_KEY" => Some(RSA_KEY.trim().into()),
        "AUTHFN_JWT_RSA_PUBLIC_KEY" => Some(other.clone()),
        _ => None,
    });
    assert!(config.is_err_and(|e| {
        e.to_string()
            .contains("AUTHFN_JWT_RSA_PUBLIC_KEY is not the public half")
    }));
}
