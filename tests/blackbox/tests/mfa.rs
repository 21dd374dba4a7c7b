//! Second factors over HTTP: enrol an authenticator app, sign in with the password and finish
//! with a code, recovery codes, step-up, the factors list and token clients. TOTP codes are
//! computed here (`authfn_blackbox::totp`, from the RFCs). The suite cannot move the
//! deployment's clock, so a test that needs a newer step than one just used takes the next
//! step's code (one step of skew is accepted) instead of waiting. Each test uses its own
//! random addresses; see `http.rs` for how these run.

use authfn_blackbox::{Api, Auth, Endpoint, Mailbox, Reply, SessionCookie, totp, unique_email};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// An account with an authenticator app on.
struct Enrolled {
    email: String,
    /// The session from sign-up.
    session: SessionCookie,
    /// The base32 secret the enrolment showed.
    secret: String,
    recovery_codes: Vec<String>,
}

async fn post(api: &Api, endpoint: Endpoint, cookie: &SessionCookie, body: &Value) -> Reply {
    api.browser_post(endpoint, cookie, api.trusted_origin(), Some(body))
        .await
}

async fn enrolled(api: &Api, tag: &str) -> Enrolled {
    let email = unique_email(tag);
    let session = api.signed_up(&email, PASSWORD).await;
    let begun = post(
        api,
        Endpoint::TotpEnroll,
        &session,
        &json!({ "current_password": PASSWORD }),
    )
    .await;
    begun.expect_status(200);
    let enrolment = begun.json();
    let secret = enrolment["secret"].as_str().expect("a secret").to_owned();
    let uri = enrolment["otpauth_uri"].as_str().expect("a URI");
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    let svg = enrolment["qr_svg"].as_str().expect("a QR code");
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    let code = totp::code_at(&secret, totp::now());
    let on = post(
        api,
        Endpoint::TotpConfirm,
        &session,
        &json!({ "code": code }),
    )
    .await;
    on.expect_status(200);
    let recovery_codes: Vec<String> = on.json()["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    assert_eq!(recovery_codes.len(), 10);
    Enrolled {
        email,
        session,
        secret,
        recovery_codes,
    }
}

/// Signs in with the password; the answer asks for the second factor. Returns its cookie.
async fn pending(api: &Api, email: &str) -> SessionCookie {
    let reply = api.sign_in(email, PASSWORD).await;
    reply.expect_status(200);
    let body = reply.json();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("session_id").is_none(), "{body}");
    assert!(
        reply
            .set_cookies()
            .iter()
            .all(|c| !c.contains("authfn_session=")),
        "no session before the second factor"
    );
    reply.pending_cookie()
}

async fn verify(api: &Api, pending: &SessionCookie, method: &str, code: &str) -> Reply {
    post(
        api,
        Endpoint::MfaVerify,
        pending,
        &json!({ "method": method, "code": code }),
    )
    .await
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn with_an_authenticator_app_the_password_asks_for_a_code_and_the_code_signs_in_once() {
    let api = Api::from_env();
    let a = enrolled(&api, "totp").await;
    let turned_on = Mailbox::for_target().latest_to(&a.email).await;
    assert!(
        turned_on.text.contains("authenticator app was turned on"),
        "{}",
        turned_on.text
    );
    let out = post(&api, Endpoint::SignOut, &a.session, &json!({})).await;
    assert!(out.status < 300, "{}", out.text());

    let p = pending(&api, &a.email).await;
    assert!(p.has("HttpOnly") && p.has("SameSite=Strict"), "{p:?}");
    assert_eq!(p.attribute("Max-Age"), Some("300"));
    // The pending sign-in is no session.
    api.session(Auth::Cookie(&SessionCookie {
        name: a.session.name.clone(),
        ..p.clone()
    }))
    .await
    .expect_error(401, "unauthenticated");

    // Newer than the step that confirmed the app, whatever the clock does meanwhile.
    let code = totp::next_code(&a.secret);
    let done = verify(&api, &p, "totp", &code).await;
    done.expect_status(200);
    let session = done.session_cookie();
    let me = api.session(Auth::Cookie(&session)).await;
    me.expect_status(200);
    let me = me.json();
    assert_eq!(me["mfa"], true, "{me}");
    let authenticated_at = me["authenticated_at"].as_u64().expect("a time");
    assert!(totp::now().abs_diff(authenticated_at) < 60, "{me}");

    // The pending sign-in is spent, and the code too.
    verify(&api, &p, "totp", &code)
        .await
        .expect_error(401, "mfa_expired");
    let again = pending(&api, &a.email).await;
    verify(&api, &again, "totp", &code)
        .await
        .expect_error(401, "invalid_code");
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_recovery_code_signs_in_once() {
    let api = Api::from_env();
    let a = enrolled(&api, "recovery").await;
    let p = pending(&api, &a.email).await;
    let done = verify(&api, &p, "recovery_code", &a.recovery_codes[0]).await;
    done.expect_status(200);
    done.session_cookie();
    let told = Mailbox::for_target().latest_to(&a.email).await;
    assert!(
        told.subject.contains("recovery code was used"),
        "{}",
        told.subject
    );
    let p = pending(&api, &a.email).await;
    verify(&api, &p, "recovery_code", &a.recovery_codes[0])
        .await
        .expect_error(401, "invalid_code");
    verify(&api, &p, "recovery_code", &a.recovery_codes[1])
        .await
        .expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn factor_changes_need_a_recent_full_sign_in_or_the_password_of_an_account_without_one() {
    let api = Api::from_env();
    // Without a factor: the password confirms, a fresh session alone does not.
    let plain = api.signed_up(&unique_email("plain"), PASSWORD).await;
    post(&api, Endpoint::TotpEnroll, &plain, &json!({}))
        .await
        .expect_error(401, "reauthentication_required");
    post(&api, Endpoint::RegenerateRecoveryCodes, &plain, &json!({}))
        .await
        .expect_error(409, "no_factor");

    // With one: a sign-in with both factors minutes ago confirms, without the password.
    let a = enrolled(&api, "stepup").await;
    let p = pending(&api, &a.email).await;
    let session = verify(&api, &p, "recovery_code", &a.recovery_codes[0])
        .await
        .session_cookie();
    let fresh = post(
        &api,
        Endpoint::RegenerateRecoveryCodes,
        &session,
        &json!({}),
    )
    .await;
    fresh.expect_status(200);
    let codes = fresh.json()["recovery_codes"].clone();
    assert_eq!(codes.as_array().map(Vec::len), Some(10), "{codes}");
    // The old codes stopped working.
    let p = pending(&api, &a.email).await;
    verify(&api, &p, "recovery_code", &a.recovery_codes[1])
        .await
        .expect_error(401, "invalid_code");

    post(&api, Endpoint::TotpDisable, &session, &json!({}))
        .await
        .expect_status(200);
    let alone = api.sign_in(&a.email, PASSWORD).await;
    alone.expect_status(200);
    alone.session_cookie();
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn the_factors_list_shows_the_app_and_the_codes_left() {
    let api = Api::from_env();
    let a = enrolled(&api, "list").await;
    let list = api
        .get(Endpoint::MfaFactors, Auth::Cookie(&a.session))
        .await;
    list.expect_status(200);
    let list = list.json();
    assert_eq!(list["totp"]["enabled"], true, "{list}");
    assert_eq!(list["passkeys"], json!([]), "{list}");
    assert_eq!(list["recovery_codes_remaining"], 10, "{list}");
    assert_eq!(list["mfa_required"], true, "{list}");
    assert!(
        !list.to_string().contains(&a.secret),
        "no secret in the list"
    );
    api.get(Endpoint::MfaFactors, Auth::None)
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_token_client_gets_the_pending_sign_in_in_the_body() {
    let api = Api::from_env();
    let a = enrolled(&api, "token").await;
    let asked = api
        .post_json(
            Endpoint::SignIn,
            &json!({ "email": a.email, "password": PASSWORD, "session_delivery": "token" }),
        )
        .await;
    asked.expect_status(200);
    assert!(asked.set_cookies().is_empty(), "{:?}", asked.set_cookies());
    let mfa_token = asked.json()["mfa_token"]
        .as_str()
        .expect("mfa_token")
        .to_owned();
    let done = api
        .post_json(
            Endpoint::MfaVerify,
            &json!({
                "method": "totp",
                "code": totp::next_code(&a.secret),
                "mfa_token": mfa_token,
                "session_delivery": "token",
            }),
        )
        .await;
    done.expect_status(200);
    let token = done.json()["session_token"]
        .as_str()
        .expect("session_token")
        .to_owned();
    api.session(Auth::Bearer(&token)).await.expect_status(200);
    // The pending token is no bearer session.
    api.session(Auth::Bearer(&mfa_token))
        .await
        .expect_error(401, "unauthenticated");
}
