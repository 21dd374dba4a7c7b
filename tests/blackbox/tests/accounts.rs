//! The account flows over HTTP, reading every mail back from the deployment's mailbox (the dev
//! server's outbox, or moto's SES for the Lambda functions and the Worker): sign-up proves
//! the address, resend, forgot / reset, change password, change email, delete account,
//! email-code sign-in (which the test deployments turn on), and identical answers for known
//! and unknown addresses. Each test uses its own random addresses; see `http.rs` for how these run.

use authfn_blackbox::{Api, Auth, Endpoint, Mail, Mailbox, Reply, unique_email};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Headers that differ between any two answers of one deployment, whatever they answer.
const PER_REQUEST_HEADERS: [&str; 5] = [
    "date",
    "x-request-id",
    "apigw-requestid",
    "x-amzn-requestid",
    "cf-ray",
];

/// Status, headers (but for [`PER_REQUEST_HEADERS`]) and body: what two answers that reveal
/// nothing must share.
fn answer(reply: &Reply) -> (u16, Vec<(String, String)>, String) {
    let headers = reply
        .headers
        .iter()
        .filter(|(name, _)| !PER_REQUEST_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    (reply.status, headers, reply.text())
}

async fn latest(email: &str) -> Mail {
    Mailbox::for_target().latest_to(email).await
}

async fn post(api: &Api, endpoint: Endpoint, body: Value) -> Reply {
    api.post_json(endpoint, &body).await
}

async fn signed_in(api: &Api, reply: &Reply) -> bool {
    api.session(Auth::Cookie(&reply.session_cookie()))
        .await
        .status
        == 200
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn sign_up_answers_the_same_for_an_address_with_an_account_and_one_without() {
    let api = Api::from_env();
    let (known, unknown) = (unique_email("known"), unique_email("unknown"));
    api.sign_up(&known, PASSWORD).await.expect_status(200);
    let for_known = api.sign_up_request(&known, "another password").await;
    let for_unknown = api.sign_up_request(&unknown, "another password").await;
    for_known.expect_status(202);
    assert_eq!(for_known.json(), json!({ "status": "verification_sent" }));
    assert_eq!(answer(&for_known), answer(&for_unknown));
    // Each address's mailbox tells its owner what happened: a notice, or a link and a code.
    let notice = latest(&known).await;
    assert!(
        notice.link_token().is_none() && notice.code().is_none(),
        "{}",
        notice.text
    );
    let mail = latest(&unknown).await;
    assert!(
        mail.link_token().is_some() && mail.code().is_some(),
        "{}",
        mail.text
    );
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn the_mailed_code_proves_the_address_once_and_the_link_then_is_void() {
    let api = Api::from_env();
    let email = unique_email("code");
    api.sign_up_request(&email, PASSWORD)
        .await
        .expect_status(202);
    let mail = latest(&email).await;
    let code = mail.code().expect("a code");
    api.sign_in(&email, PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    let verified = post(
        &api,
        Endpoint::VerifyEmail,
        json!({ "email": email, "code": code }),
    )
    .await;
    verified.expect_status(200);
    assert!(signed_in(&api, &verified).await);
    post(
        &api,
        Endpoint::VerifyEmail,
        json!({ "email": email, "code": code }),
    )
    .await
    .expect_error(400, "invalid_code");
    let token = mail.link_token().expect("a link");
    post(&api, Endpoint::VerifyEmail, json!({ "token": token }))
        .await
        .expect_error(400, "invalid_token");
    api.sign_in(&email, PASSWORD).await.expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn resend_mails_a_new_link_that_voids_the_old_one_and_answers_the_same_for_any_address() {
    let api = Api::from_env();
    let email = unique_email("resend");
    api.sign_up_request(&email, PASSWORD)
        .await
        .expect_status(202);
    let first = latest(&email).await.link_token().expect("a link");
    let pending = post(
        &api,
        Endpoint::ResendVerification,
        json!({ "email": email }),
    )
    .await;
    pending.expect_status(202);
    let nobody = post(
        &api,
        Endpoint::ResendVerification,
        json!({ "email": unique_email("nobody") }),
    )
    .await;
    assert_eq!(answer(&pending), answer(&nobody));
    let second = latest(&email).await.link_token().expect("a link");
    assert_ne!(first, second);
    post(&api, Endpoint::VerifyEmail, json!({ "token": first }))
        .await
        .expect_error(400, "invalid_token");
    post(&api, Endpoint::VerifyEmail, json!({ "token": second }))
        .await
        .expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn forgot_answers_the_same_for_known_and_unknown_addresses() {
    let api = Api::from_env();
    let (known, unknown) = (unique_email("forgot"), unique_email("forgot-nobody"));
    api.sign_up(&known, PASSWORD).await.expect_status(200);
    let for_known = post(&api, Endpoint::ForgotPassword, json!({ "email": known })).await;
    let for_unknown = post(&api, Endpoint::ForgotPassword, json!({ "email": unknown })).await;
    for_known.expect_status(202);
    assert_eq!(for_known.json(), json!({ "status": "reset_sent" }));
    assert_eq!(answer(&for_known), answer(&for_unknown));
    assert!(latest(&known).await.link_token().is_some());
    assert!(
        latest(&unknown).await.link_token().is_none(),
        "the unknown address gets a notice, no link"
    );
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_reset_sets_the_password_ends_the_old_session_and_its_link_works_once() {
    let api = Api::from_env();
    let email = unique_email("reset");
    let old = api.signed_up(&email, PASSWORD).await;
    post(&api, Endpoint::ForgotPassword, json!({ "email": email }))
        .await
        .expect_status(202);
    let token = latest(&email).await.link_token().expect("a link");
    let reset = post(
        &api,
        Endpoint::ResetPassword,
        json!({ "token": token, "password": NEW_PASSWORD }),
    )
    .await;
    reset.expect_status(200);
    assert!(signed_in(&api, &reset).await, "the reset signs in");
    api.session(Auth::Cookie(&old))
        .await
        .expect_error(401, "unauthenticated");
    api.sign_in(&email, PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    api.sign_in(&email, NEW_PASSWORD).await.expect_status(200);
    let again = post(
        &api,
        Endpoint::ResetPassword,
        json!({ "token": token, "password": "yet another password" }),
    )
    .await;
    again.expect_error(400, "invalid_token");
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
    let api = Api::from_env();
    let email = unique_email("change");
    let laptop = api.signed_up(&email, PASSWORD).await;
    let phone = api.sign_in(&email, PASSWORD).await.session_cookie();
    let change =
        |current: &str| json!({ "current_password": current, "new_password": NEW_PASSWORD });
    let origin = api.trusted_origin().to_owned();
    let wrong = api
        .browser_post(
            Endpoint::ChangePassword,
            &laptop,
            &origin,
            Some(&change("not the password")),
        )
        .await;
    wrong.expect_error(401, "invalid_credentials");
    let changed = api
        .browser_post(
            Endpoint::ChangePassword,
            &laptop,
            &origin,
            Some(&change(PASSWORD)),
        )
        .await;
    changed.expect_status(200);
    assert!(
        signed_in(&api, &changed).await,
        "the session is rotated, not ended"
    );
    for old in [&laptop, &phone] {
        api.session(Auth::Cookie(old))
            .await
            .expect_error(401, "unauthenticated");
    }
    api.sign_in(&email, NEW_PASSWORD).await.expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn changing_the_email_tells_the_old_address_and_happens_when_the_new_one_is_proven() {
    let api = Api::from_env();
    let (old, new) = (unique_email("move-from"), unique_email("move-to"));
    let cookie = api.signed_up(&old, PASSWORD).await;
    let origin = api.trusted_origin().to_owned();
    let change = |password: &str| json!({ "new_email": new, "password": password });
    let wrong = api
        .browser_post(
            Endpoint::ChangeEmail,
            &cookie,
            &origin,
            Some(&change("not the password")),
        )
        .await;
    wrong.expect_error(401, "invalid_credentials");
    let asked = api
        .browser_post(
            Endpoint::ChangeEmail,
            &cookie,
            &origin,
            Some(&change(PASSWORD)),
        )
        .await;
    asked.expect_status(202);
    assert_eq!(asked.json(), json!({ "status": "verification_sent" }));
    let notice = latest(&old).await;
    assert!(
        notice.link_token().is_none() && notice.text.contains(&new),
        "{}",
        notice.text
    );
    let mail = latest(&new).await;
    let token = mail.link_token().expect("a link");
    assert!(
        mail.text.contains("#/verify-email-change?token="),
        "{}",
        mail.text
    );
    api.sign_in(&new, PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    let proven = post(&api, Endpoint::VerifyEmailChange, json!({ "token": token })).await;
    proven.expect_status(200);
    assert_eq!(proven.json(), json!({ "email": new }));
    post(&api, Endpoint::VerifyEmailChange, json!({ "token": token }))
        .await
        .expect_error(400, "invalid_token");
    api.sign_in(&new, PASSWORD).await.expect_status(200);
    api.sign_in(&old, PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    api.session(Auth::Cookie(&cookie)).await.expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_change_onto_an_address_with_an_account_answers_the_same_and_that_address_gets_a_notice()
{
    let api = Api::from_env();
    let (taken, free, mover) = (
        unique_email("taken"),
        unique_email("free"),
        unique_email("mover"),
    );
    api.sign_up(&taken, PASSWORD).await.expect_status(200);
    let cookie = api.signed_up(&mover, PASSWORD).await;
    let origin = api.trusted_origin().to_owned();
    let onto = |to: &str| json!({ "new_email": to, "password": PASSWORD });
    let onto_taken = api
        .browser_post(Endpoint::ChangeEmail, &cookie, &origin, Some(&onto(&taken)))
        .await;
    let onto_free = api
        .browser_post(Endpoint::ChangeEmail, &cookie, &origin, Some(&onto(&free)))
        .await;
    onto_taken.expect_status(202);
    assert_eq!(answer(&onto_taken), answer(&onto_free));
    let notice = latest(&taken).await;
    assert!(
        notice.link_token().is_none() && notice.code().is_none(),
        "{}",
        notice.text
    );
    api.sign_in(&mover, PASSWORD).await.expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn deleting_the_account_ends_its_sessions_and_frees_its_address() {
    let api = Api::from_env();
    let email = unique_email("delete");
    let laptop = api.signed_up(&email, PASSWORD).await;
    let phone = api.sign_in(&email, PASSWORD).await.session_cookie();
    let origin = api.trusted_origin().to_owned();
    let wrong = api
        .browser_post(
            Endpoint::DeleteAccount,
            &laptop,
            &origin,
            Some(&json!({ "password": "not it" })),
        )
        .await;
    wrong.expect_error(401, "invalid_credentials");
    let no_password = api
        .browser_post(Endpoint::DeleteAccount, &laptop, &origin, Some(&json!({})))
        .await;
    no_password.expect_error(401, "reauthentication_required");
    let deleted = api
        .browser_post(
            Endpoint::DeleteAccount,
            &laptop,
            &origin,
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    deleted.expect_status(200);
    assert_eq!(deleted.json(), json!({ "status": "deleted" }));
    assert_eq!(
        deleted.session_cookie().attribute("Max-Age"),
        Some("0"),
        "the cookie is cleared"
    );
    for old in [&laptop, &phone] {
        api.session(Auth::Cookie(old))
            .await
            .expect_error(401, "unauthenticated");
    }
    let gone = api.sign_in(&email, PASSWORD).await;
    gone.expect_error(401, "invalid_credentials");
    assert_eq!(
        answer(&gone),
        answer(&api.sign_in(&unique_email("never"), PASSWORD).await),
        "as for an unknown address"
    );
    api.sign_up(&email, PASSWORD).await.expect_status(200);
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_mailed_code_signs_in_once_and_requests_answer_the_same_for_any_address() {
    let api = Api::from_env();
    let (email, nobody) = (unique_email("code-sign-in"), unique_email("code-nobody"));
    api.sign_up(&email, PASSWORD).await.expect_status(200);
    let known = post(&api, Endpoint::EmailCodeRequest, json!({ "email": email })).await;
    let unknown = post(&api, Endpoint::EmailCodeRequest, json!({ "email": nobody })).await;
    known.expect_status(202);
    assert_eq!(known.json(), json!({ "status": "code_sent" }));
    assert_eq!(answer(&known), answer(&unknown));
    assert!(
        latest(&nobody).await.code().is_none(),
        "the unknown address gets a notice, no code"
    );
    let code = latest(&email).await.code().expect("a code");
    let signed = post(
        &api,
        Endpoint::EmailCodeSignIn,
        json!({ "email": email, "code": code }),
    )
    .await;
    signed.expect_status(200);
    assert!(signed_in(&api, &signed).await);
    post(
        &api,
        Endpoint::EmailCodeSignIn,
        json!({ "email": email, "code": code }),
    )
    .await
    .expect_error(400, "invalid_code");
    post(&api, Endpoint::EmailCodeRequest, json!({ "email": email }))
        .await
        .expect_status(202);
    let token = latest(&email).await.link_token().expect("a link");
    post(&api, Endpoint::EmailCodeSignIn, json!({ "token": token }))
        .await
        .expect_status(200);
}
