//! Sign-in through an upstream OpenID provider, begin to callback, with a fake provider behind
//! authfn's outbound `HttpClient` that signs real ID tokens: what a successful sign-in leaves
//! behind, and each way a callback is refused. Driven through `App::handle` with the manual
//! clock, over each store.
#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

mod support;

use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use support::idp::*;
use support::*;

const BINDING: &str = "__Host-authfn_federation";
const SESSION: &str = "__Host-authfn_session";
const BEGIN: &str = "/auth/federation/idp/begin";
/// How long a sign-in may take from begin to callback.
const ATTEMPT_SECS: u64 = 600;

for_each_store!(
    a_federated_sign_in_creates_an_account_and_a_session_and_ends_the_one_the_browser_had,
    signing_in_again_with_the_same_identity_reaches_the_same_account,
    a_callback_with_another_state_is_refused_and_leaves_the_sign_in_to_its_browser,
    a_callback_in_another_browser_is_refused,
    a_state_is_good_for_one_callback_only,
    an_id_token_with_another_sign_ins_nonce_is_refused_and_signs_no_one_in_or_out,
    a_sign_in_that_outlasts_its_attempt_is_refused,
    an_error_from_the_provider_is_reported_and_no_code_is_exchanged,
    a_refusal_at_the_token_endpoint_is_a_failed_code_exchange,
    an_id_token_whose_signature_does_not_verify_is_refused,
    an_expired_id_token_is_refused,
    an_id_token_from_another_issuer_is_refused_and_signs_no_one_in_or_out,
    an_id_token_for_another_client_is_refused_and_signs_no_one_in_or_out,
    an_id_token_with_several_audiences_must_be_authorized_for_this_client,
    an_unverified_email_creates_no_account,
    a_provider_that_rotated_its_signing_key_is_trusted_after_one_refetch,
    a_sign_in_begun_by_fetch_is_answered_in_json,
    an_answer_that_names_no_provider_or_another_one_is_refused,
);

/// authfn over `h`'s store and clock with the fake provider `idp` configured.
fn federated(h: Harness) -> (Harness, Arc<FakeIdp>) {
    let idp = Arc::new(FakeIdp::new(h.clock.clone()));
    let settings = idp.settings();
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let h = h.reconfigure(&pairs).with_http_client(idp.clone());
    (h, idp)
}

/// A sign-in the browser has begun: where it was sent, and the binding cookie it got.
struct Begun {
    authorization_url: String,
    binding: String,
}

/// The browser (with `cookie`, if any) follows the SPA's "sign in with…" link.
async fn begin(h: &Harness, cookie: Option<&str>) -> Begun {
    let res = h.request("GET", BEGIN, vec![], None, cookie, vec![]).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    Begun {
        authorization_url: res
            .header("location")
            .expect("a redirect to the provider")
            .to_owned(),
        binding: res.cookie_named(BINDING),
    }
}

/// The provider sends the browser back with `query`; it carries `cookies`.
async fn callback(h: &Harness, query: &str, cookies: &[&str]) -> Res {
    let cookie = cookies.join("; ");
    let cookie = (!cookie.is_empty()).then_some(cookie.as_str());
    h.request(
        "GET",
        &format!("/auth/federation/idp/callback?{query}"),
        vec![],
        None,
        cookie,
        vec![],
    )
    .await
}

/// Where a browser callback lands: the new session cookie, or the `authfn_error` the SPA is
/// sent back with. Either way the binding cookie is cleared.
fn landing(res: &Res) -> Result<String, String> {
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    let binding = res
        .set_cookie(BINDING)
        .unwrap_or_else(|| panic!("the binding cookie is not cleared: {}", res.text));
    assert!(binding.contains("Max-Age=0"), "{binding}");
    let location = url::Url::parse(res.header("location").expect("a redirect")).expect("a URL");
    assert!(location.as_str().starts_with(RETURN_TO), "{location}");
    if let Some((_, code)) = location.query_pairs().find(|(k, _)| k == "authfn_error") {
        assert!(
            res.set_cookie(SESSION).is_none(),
            "a failed sign-in sets no session"
        );
        return Err(code.into_owned());
    }
    Ok(res.cookie_named(SESSION))
}

/// A whole sign-in of `login` in a browser that has no session.
async fn sign_in(h: &Harness, idp: &FakeIdp, login: Login) -> Result<String, String> {
    let begun = begin(h, None).await;
    let query = idp.sign_in(&begun.authorization_url, login);
    landing(&callback(h, &query, &[&begun.binding]).await)
}

/// Nothing made an account for `email`: it is still free to sign up with.
async fn assert_no_account(h: &Harness, email: &str) {
    assert_eq!(
        h.sign_up(email, PASSWORD).await.status,
        StatusCode::OK,
        "an account was made for {email}"
    );
}

fn token_exchanges(idp: &FakeIdp) -> usize {
    idp.requests()
        .iter()
        .filter(|url| url.ends_with("/token"))
        .count()
}

async fn a_federated_sign_in_creates_an_account_and_a_session_and_ends_the_one_the_browser_had(
    h: Harness,
) {
    let (h, idp) = federated(h);
    let old = h.sign_up("someone@example.com", PASSWORD).await.cookie();
    let begun = begin(&h, Some(&old)).await;
    let query = idp.sign_in(&begun.authorization_url, Login::verified("Fed@Example.com"));
    let new = landing(&callback(&h, &query, &[&begun.binding, &old]).await).expect("signed in");
    assert_ne!(new, old);

    let session = h.get("/auth/session", Some(&new)).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    assert_eq!(session.json["user"]["email"], "fed@example.com");
    assert_eq!(
        h.get("/auth/session", Some(&old)).await.status,
        StatusCode::UNAUTHORIZED,
        "the old session ended"
    );
    let fetched: Vec<String> = idp.requests();
    assert_eq!(
        fetched.len(),
        3,
        "discovery, keys, one code exchange: {fetched:?}"
    );
    assert!(
        fetched[0].ends_with("/.well-known/openid-configuration") && fetched[2].ends_with("/token"),
        "{fetched:?}"
    );
    // The account has no password: only the provider signs it in.
    assert_eq!(
        h.sign_in("fed@example.com", "").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.sign_in("fed@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn signing_in_again_with_the_same_identity_reaches_the_same_account(h: Harness) {
    let (h, idp) = federated(h);
    let first = sign_in(&h, &idp, Login::verified("again@example.com"))
        .await
        .unwrap();
    let second = sign_in(&h, &idp, Login::verified("again@example.com"))
        .await
        .unwrap();
    assert_ne!(first, second, "a session each");
    let first_user = h.get("/auth/session", Some(&first)).await.json["user"]["id"].clone();
    let second_user = h.get("/auth/session", Some(&second)).await.json["user"]["id"].clone();
    assert!(first_user.is_string());
    assert_eq!(first_user, second_user);
}

async fn a_callback_with_another_state_is_refused_and_leaves_the_sign_in_to_its_browser(
    h: Harness,
) {
    let (h, idp) = federated(h);
    let begun = begin(&h, None).await;
    let query = idp.sign_in(
        &begun.authorization_url,
        Login::verified("state@example.com"),
    );
    let state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let other_state = query.replace(&state, "AnotherStateOfTheSameShapeXXXXXXXXXXXXXXXXX");
    assert_eq!(
        landing(&callback(&h, &other_state, &[&begun.binding]).await),
        Err("invalid_state".into())
    );
    assert_eq!(token_exchanges(&idp), 0, "the code was not sent anywhere");
    assert!(
        landing(&callback(&h, &query, &[&begun.binding]).await).is_ok(),
        "the real answer still signs in"
    );
}

async fn a_callback_in_another_browser_is_refused(h: Harness) {
    let (h, idp) = federated(h);
    let begun = begin(&h, None).await;
    let query = idp.sign_in(
        &begun.authorization_url,
        Login::verified("victim@example.com"),
    );
    // The callback URL leaked (or was forced on someone): without the binding it finds nothing.
    let other_browser = begin(&h, None).await;
    assert_eq!(
        landing(&callback(&h, &query, &[]).await),
        Err("invalid_state".into())
    );
    assert_eq!(
        landing(&callback(&h, &query, &[&other_browser.binding]).await),
        Err("invalid_state".into())
    );
    assert_eq!(token_exchanges(&idp), 0);
    assert!(
        landing(&callback(&h, &query, &[&begun.binding]).await).is_ok(),
        "nor could it burn the sign-in"
    );
}

async fn a_state_is_good_for_one_callback_only(h: Harness) {
    let (h, idp) = federated(h);
    let begun = begin(&h, None).await;
    let query = idp.sign_in(
        &begun.authorization_url,
        Login::verified("once@example.com"),
    );
    assert!(landing(&callback(&h, &query, &[&begun.binding]).await).is_ok());
    assert_eq!(
        landing(&callback(&h, &query, &[&begun.binding]).await),
        Err("invalid_state".into())
    );
    assert_eq!(token_exchanges(&idp), 1);
}

async fn an_id_token_with_another_sign_ins_nonce_is_refused_and_signs_no_one_in_or_out(h: Harness) {
    let (h, idp) = federated(h);
    let old = h.sign_up("someone@example.com", PASSWORD).await.cookie();
    // The nonce of another sign-in: an ID token replayed from it.
    let other = begin(&h, None).await;
    let other_nonce = url::Url::parse(&other.authorization_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "nonce")
        .unwrap()
        .1
        .into_owned();
    let begun = begin(&h, Some(&old)).await;
    let login = Login {
        nonce: Some(other_nonce),
        ..Login::verified("replayed@example.com")
    };
    let query = idp.sign_in(&begun.authorization_url, login);
    assert_eq!(
        landing(&callback(&h, &query, &[&begun.binding, &old]).await),
        Err("invalid_id_token".into())
    );
    assert_eq!(
        h.get("/auth/session", Some(&old)).await.status,
        StatusCode::OK,
        "a failed sign-in signs no one out"
    );
    assert_no_account(&h, "replayed@example.com").await;
}

async fn a_sign_in_that_outlasts_its_attempt_is_refused(h: Harness) {
    let (h, idp) = federated(h);
    let slow = begin(&h, None).await;
    let query = idp.sign_in(&slow.authorization_url, Login::verified("slow@example.com"));
    h.wait(ATTEMPT_SECS);
    assert_eq!(
        landing(&callback(&h, &query, &[&slow.binding]).await),
        Err("invalid_state".into())
    );
    assert_eq!(token_exchanges(&idp), 0);
    // One second less is in time.
    let begun = begin(&h, None).await;
    let query = idp.sign_in(
        &begun.authorization_url,
        Login::verified("slow@example.com"),
    );
    h.wait(ATTEMPT_SECS - 1);
    assert!(landing(&callback(&h, &query, &[&begun.binding]).await).is_ok());
}

async fn an_error_from_the_provider_is_reported_and_no_code_is_exchanged(h: Harness) {
    let (h, idp) = federated(h);
    let begun = begin(&h, None).await;
    let query = idp.refuse(&begun.authorization_url, "access_denied");
    assert_eq!(
        landing(&callback(&h, &query, &[&begun.binding]).await),
        Err("idp_error".into())
    );
    assert_eq!(token_exchanges(&idp), 0);
}

async fn a_refusal_at_the_token_endpoint_is_a_failed_code_exchange(h: Harness) {
    let (h, idp) = federated(h);
    let refused = Login {
        token_error: Some((400, json!({ "error": "invalid_grant" }))),
        ..Login::verified("t@example.com")
    };
    assert_eq!(
        sign_in(&h, &idp, refused).await,
        Err("code_exchange_failed".into())
    );
    // A provider that fails outright is unavailable, not a refusal.
    let broken = Login {
        token_error: Some((500, json!({}))),
        ..Login::verified("t@example.com")
    };
    assert_eq!(
        sign_in(&h, &idp, broken).await,
        Err("idp_unavailable".into())
    );
    assert_no_account(&h, "t@example.com").await;
}

async fn an_id_token_whose_signature_does_not_verify_is_refused(h: Harness) {
    let (h, idp) = federated(h);
    let forged = Login {
        forged_signature: true,
        ..Login::verified("forged@example.com")
    };
    assert_eq!(
        sign_in(&h, &idp, forged).await,
        Err("invalid_id_token".into())
    );
    assert_no_account(&h, "forged@example.com").await;
}

async fn an_expired_id_token_is_refused(h: Harness) {
    let (h, idp) = federated(h);
    // Expired longer ago than the clock skew authfn tolerates.
    let stale = Login {
        id_token_secs: -61,
        ..Login::verified("stale@example.com")
    };
    assert_eq!(
        sign_in(&h, &idp, stale).await,
        Err("invalid_id_token".into())
    );
    let within_skew = Login {
        id_token_secs: -59,
        ..Login::verified("stale@example.com")
    };
    assert!(sign_in(&h, &idp, within_skew).await.is_ok());
}

/// A sign-in of `login` begun by fetch in a browser signed in as `old`, whose callback asks
/// for JSON: must be refused as `invalid_id_token` (401), leaving `old` signed in and no
/// account made.
async fn assert_id_token_refused(h: &Harness, idp: &FakeIdp, old: &str, login: Login) {
    let json = vec![("accept", "application/json")];
    let begun = begin(h, Some(old)).await;
    let query = idp.sign_in(&begun.authorization_url, login.clone());
    let cookies = format!("{}; {old}", begun.binding);
    let path = format!("/auth/federation/idp/callback?{query}");
    let res = h
        .request("GET", &path, vec![], None, Some(&cookies), json)
        .await;
    assert_eq!(
        res.error(),
        (401, "invalid_id_token"),
        "{login:?}: {}",
        res.text
    );
    assert!(
        res.set_cookie(SESSION).is_none(),
        "{login:?}: a refused ID token sets no session"
    );
    assert_eq!(
        h.get("/auth/session", Some(old)).await.status,
        StatusCode::OK,
        "a failed sign-in signs no one out"
    );
    assert_no_account(h, &login.email).await;
}

async fn an_id_token_from_another_issuer_is_refused_and_signs_no_one_in_or_out(h: Harness) {
    let (h, idp) = federated(h);
    let old = h.sign_up("someone@example.com", PASSWORD).await.cookie();
    let elsewhere = Login {
        issuer: Some("https://evil.example.com".into()),
        ..Login::verified("iss@example.com")
    };
    assert_id_token_refused(&h, &idp, &old, elsewhere).await;
}

async fn an_id_token_for_another_client_is_refused_and_signs_no_one_in_or_out(h: Harness) {
    let (h, idp) = federated(h);
    let old = h.sign_up("someone@example.com", PASSWORD).await.cookie();
    let other = Login {
        audience: Some(json!("another-client")),
        ..Login::verified("aud@example.com")
    };
    assert_id_token_refused(&h, &idp, &old, other).await;
    let others = Login {
        audience: Some(json!(["another-client", "a-third-client"])),
        ..Login::verified("auds@example.com")
    };
    assert_id_token_refused(&h, &idp, &old, others).await;
}

async fn an_id_token_with_several_audiences_must_be_authorized_for_this_client(h: Harness) {
    let (h, idp) = federated(h);
    let old = h.sign_up("someone@example.com", PASSWORD).await.cookie();
    let audiences = json!([CLIENT_ID, "another-client"]);
    let for_another = Login {
        audience: Some(audiences.clone()),
        azp: Some("another-client".into()),
        ..Login::verified("azp@example.com")
    };
    assert_id_token_refused(&h, &idp, &old, for_another).await;
    let unauthorized = Login {
        audience: Some(audiences.clone()),
        ..Login::verified("no-azp@example.com")
    };
    assert_id_token_refused(&h, &idp, &old, unauthorized).await;
    // Named as the authorized party, this client may use it.
    let for_us = Login {
        audience: Some(audiences),
        azp: Some(CLIENT_ID.into()),
        ..Login::verified("azp-us@example.com")
    };
    assert!(sign_in(&h, &idp, for_us).await.is_ok());
}

async fn an_unverified_email_creates_no_account(h: Harness) {
    let (h, idp) = federated(h);
    let unverified = Login {
        email_verified: false,
        ..Login::verified("unproven@example.com")
    };
    assert_eq!(
        sign_in(&h, &idp, unverified).await,
        Err("email_not_verified".into())
    );
    assert_no_account(&h, "unproven@example.com").await;
}

async fn a_provider_that_rotated_its_signing_key_is_trusted_after_one_refetch(h: Harness) {
    let (h, idp) = federated(h);
    assert!(
        sign_in(&h, &idp, Login::verified("rot@example.com"))
            .await
            .is_ok()
    );
    idp.rotate_key();
    assert!(
        sign_in(&h, &idp, Login::verified("rot@example.com"))
            .await
            .is_ok(),
        "the new key is fetched"
    );
    let key_fetches = idp
        .requests()
        .iter()
        .filter(|url| url.ends_with("/jwks"))
        .count();
    assert_eq!(key_fetches, 2, "{:?}", idp.requests());
}

async fn a_sign_in_begun_by_fetch_is_answered_in_json(h: Harness) {
    let (h, idp) = federated(h);
    let json = vec![("accept", "application/json")];
    let begun = h
        .request("GET", BEGIN, vec![], None, None, json.clone())
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text);
    let url = begun.json["authorization_url"].as_str().unwrap();
    let binding = begun.cookie_named(BINDING);

    let query = idp.sign_in(url, Login::verified("spa@example.com"));
    let path = format!("/auth/federation/idp/callback?{query}");
    // The callback itself need not ask: the sign-in remembers how it began.
    let res = h
        .request("GET", &path, vec![], None, Some(&binding), vec![])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["return_to"], RETURN_TO);
    let session = h
        .get("/auth/session", Some(&res.cookie_named(SESSION)))
        .await;
    assert_eq!(session.json["user"]["id"], res.json["user_id"]);
    // A callback that asks for JSON gets its failures in JSON too.
    let again = h
        .request("GET", &path, vec![], None, Some(&binding), json)
        .await;
    assert_eq!(again.error(), (400, "invalid_state"), "{}", again.text);
}

async fn an_answer_that_names_no_provider_or_another_one_is_refused(h: Harness) {
    let (h, idp) = federated(h);
    // RFC 9207: this provider names itself in every answer, so one that does not, or that
    // names another, came from somewhere else (a mix-up attack).
    fn without_iss(query: &str) -> String {
        query
            .split('&')
            .filter(|p| !p.starts_with("iss="))
            .collect::<Vec<_>>()
            .join("&")
    }
    fn from_another_provider(query: &str) -> String {
        format!("{}&iss=https%3A%2F%2Fevil.example.com", without_iss(query))
    }
    for tamper in [without_iss, from_another_provider] {
        let begun = begin(&h, None).await;
        let query = idp.sign_in(
            &begun.authorization_url,
            Login::verified("mixed@example.com"),
        );
        assert_eq!(
            landing(&callback(&h, &tamper(&query), &[&begun.binding]).await),
            Err("invalid_state".into())
        );
    }
    assert_eq!(
        token_exchanges(&idp),
        0,
        "no code was sent to the token endpoint"
    );
}
