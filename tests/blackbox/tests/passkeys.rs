//! Passkeys over HTTP, with the software authenticator of `authfn_blackbox::authenticator`
//! playing the browser on the trusted origin: register (with the password as step-up), sign
//! out, sign in with the passkey alone, and answer a password sign-in's second factor with it.
//! The same suite runs against the dev server, the Lambda functions and the Worker; see
//! `http.rs` for how these run.

use authfn_blackbox::authenticator::{Algorithm, Authenticator};
use authfn_blackbox::{Api, Auth, Endpoint, Reply, SessionCookie, unique_email};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// A POST from the SPA's page: the Origin, and the cookies given (`name=value; …`).
async fn from_page(api: &Api, endpoint: Endpoint, cookies: Option<&str>, body: Value) -> Reply {
    let mut req = api
        .request(Method::POST, endpoint, Auth::None)
        .header("origin", api.trusted_origin())
        .json(&body);
    if let Some(cookies) = cookies {
        req = req.header("cookie", cookies);
    }
    api.send(req).await
}

/// `POST /auth/passkeys/sign-in/finish` from the SPA's page with `credential`.
async fn finish(api: &Api, cookies: Option<&str>, credential: &Value) -> Reply {
    from_page(
        api,
        Endpoint::PasskeySignInFinish,
        cookies,
        json!({ "credential": credential }),
    )
    .await
}

/// A fresh sign-in challenge (bound to the pending sign-in in `cookies`, if any), answered by
/// `auth`.
async fn assertion(api: &Api, cookies: Option<&str>, auth: &mut Authenticator) -> Value {
    let options = from_page(api, Endpoint::PasskeySignInBegin, cookies, json!({})).await;
    options.expect_status(200);
    auth.get(&options.json())
}

/// The `name=value` of the pending-sign-in cookie a reply sets.
fn pending_cookie(reply: &Reply) -> String {
    reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-authfn_mfa=") || c.starts_with("authfn_mfa="))
        .unwrap_or_else(|| panic!("no pending sign-in cookie: {}", reply.text()))
        .split(';')
        .next()
        .expect("a cookie pair")
        .to_owned()
}

/// A new account with an ES256 passkey; returns its address and the authenticator holding it.
async fn account_with_passkey(api: &Api, tag: &str) -> (String, SessionCookie, Authenticator) {
    account_with_passkey_of(api, tag, Algorithm::Es256).await
}

/// A new account with a passkey of `algorithm`.
async fn account_with_passkey_of(
    api: &Api,
    tag: &str,
    algorithm: Algorithm,
) -> (String, SessionCookie, Authenticator) {
    let email = unique_email(tag);
    let session = api.signed_up(&email, PASSWORD).await;
    let options = from_page(
        api,
        Endpoint::PasskeyRegisterBegin,
        Some(&session.header()),
        json!({ "current_password": PASSWORD }),
    )
    .await;
    options.expect_status(200);
    assert_eq!(options.json()["publicKey"]["user"]["name"], email.as_str());
    let mut auth = Authenticator::new(api.trusted_origin());
    let credential = auth.create(&options.json(), algorithm);
    let registered = from_page(
        api,
        Endpoint::PasskeyRegisterFinish,
        Some(&session.header()),
        json!({ "credential": credential, "name": "Test key" }),
    )
    .await;
    registered.expect_status(201);
    assert_eq!(registered.json()["passkey"]["name"], "Test key");
    assert_eq!(
        registered.json()["recovery_codes"].as_array().map(Vec::len),
        Some(10)
    );
    (email, session, auth)
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_registered_passkey_signs_in_alone_after_signing_out() {
    let api = Api::from_env();
    let (_, session, mut auth) = account_with_passkey(&api, "passkey").await;
    from_page(&api, Endpoint::SignOut, Some(&session.header()), json!({})).await;
    api.session(Auth::Cookie(&session)).await.expect_status(401);

    let options = from_page(&api, Endpoint::PasskeySignInBegin, None, json!({})).await;
    options.expect_status(200);
    assert_eq!(options.json()["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(options.json()["publicKey"]["userVerification"], "required");
    let assertion = auth.get(&options.json());
    let signed_in = finish(&api, None, &assertion).await;
    signed_in.expect_status(200);
    let cookie = signed_in.session_cookie();
    api.session(Auth::Cookie(&cookie)).await.expect_status(200);
    // The same answer again: its challenge is spent.
    finish(&api, None, &assertion)
        .await
        .expect_error(400, "challenge_expired");
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn an_ed25519_passkey_signs_in_and_a_forged_assertion_does_not() {
    let api = Api::from_env();
    let (_, _, mut auth) = account_with_passkey_of(&api, "passkey-ed", Algorithm::EdDsa).await;
    let options = from_page(&api, Endpoint::PasskeySignInBegin, None, json!({})).await;
    let mut forged = auth.get(&options.json());
    let signature = forged["response"]["signature"].as_str().unwrap().to_owned();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    forged["response"]["signature"] = URL_SAFE_NO_PAD.encode(&bytes).into();
    finish(&api, None, &forged)
        .await
        .expect_error(401, "passkey_rejected");

    let options = from_page(&api, Endpoint::PasskeySignInBegin, None, json!({})).await;
    let signed_in = finish(&api, None, &auth.get(&options.json())).await;
    signed_in.expect_status(200);
    let cookie = signed_in.session_cookie();
    api.session(Auth::Cookie(&cookie)).await.expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_passkey_answers_the_second_factor_of_a_password_sign_in() {
    let api = Api::from_env();
    let (email, _, mut auth) = account_with_passkey(&api, "passkey-2fa").await;
    let first = from_page(
        &api,
        Endpoint::SignIn,
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    first.expect_status(200);
    assert_eq!(first.json()["mfa_required"], true);
    let pending = pending_cookie(&first);
    let options = from_page(
        &api,
        Endpoint::PasskeySignInBegin,
        Some(&pending),
        json!({}),
    )
    .await;
    options.expect_status(200);
    assert_eq!(
        options.json()["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Without the pending sign-in the bound challenge signs nobody in.
    let assertion = auth.get(&options.json());
    finish(&api, None, &assertion)
        .await
        .expect_error(401, "mfa_expired");
    let options = from_page(
        &api,
        Endpoint::PasskeySignInBegin,
        Some(&pending),
        json!({}),
    )
    .await;
    let done = finish(&api, Some(&pending), &auth.get(&options.json())).await;
    done.expect_status(200);
    api.session(Auth::Cookie(&done.session_cookie()))
        .await
        .expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_passkey_from_another_origin_or_without_user_verification_is_refused() {
    let api = Api::from_env();
    let (_, _, mut auth) = account_with_passkey(&api, "passkey-refused").await;
    auth.origin = "https://evil.example.com".into();
    let refused = assertion(&api, None, &mut auth).await;
    finish(&api, None, &refused)
        .await
        .expect_error(401, "passkey_rejected");
    auth.origin = api.trusted_origin().to_owned();
    auth.user_verified = false;
    let refused = assertion(&api, None, &mut auth).await;
    finish(&api, None, &refused)
        .await
        .expect_error(401, "passkey_rejected");
}
