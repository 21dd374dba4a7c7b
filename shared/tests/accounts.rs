//! The account flows that prove an address by mail: sign-up and verify-email, resend, password
//! forgot / reset / change. Driven through `App::handle` with the manual clock; every mail is
//! read back from the outbox, never assumed.

#![allow(clippy::unwrap_used, reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers")]
mod support;

use std::sync::Arc;

use authfn::email::Email;
use authfn::mail::{Mail, MailError, Mailer};
use authfn::store::ChallengeKey;
use http::StatusCode;
use serde_json::{Value, json};
use support::*;

const NEW_PASSWORD: &str = "a brand new passphrase";
const SCOPE: &str = "openid email offline_access";

for_each_store!(
    sign_up_answers_the_same_bytes_after_the_same_work_whether_or_not_the_address_has_an_account,
    a_new_address_gets_a_link_and_a_code_and_an_address_with_an_account_a_notice,
    the_mailed_link_makes_a_proven_account_and_works_once,
    the_mailed_code_proves_the_address_from_another_device,
    a_verification_lasts_24_hours,
    a_newer_sign_up_replaces_an_older_one_so_nobody_holds_an_address_they_cannot_read,
    five_wrong_codes_kill_the_challenge,
    a_mailed_secret_proves_only_what_it_was_mailed_for,
    a_proof_for_an_address_that_got_an_account_meanwhile_is_a_clear_409_and_is_spent,
    resend_answers_the_same_for_every_address_and_voids_the_previous_mail,
    forgot_answers_the_same_bytes_for_known_and_unknown_addresses_and_mails_both,
    a_reset_sets_the_password_and_ends_every_session_and_refresh_family,
    a_reset_by_code_works_and_a_reset_lasts_15_minutes_and_works_once,
    changing_the_password_needs_the_current_one_and_ends_every_other_session_and_refresh_family,
    mail_to_one_address_is_limited_the_same_whether_or_not_it_has_an_account,
);

fn same_answer(a: &Res, b: &Res) {
    assert_eq!((a.status, a.all_headers(), &a.text), (b.status, b.all_headers(), &b.text));
}

async fn verify(h: &Harness, body: Value) -> Res {
    h.post_json("/auth/verify-email", body, None).await
}

async fn forgot(h: &Harness, email: &str) -> Res {
    h.post_json("/auth/password/forgot", json!({ "email": email }), None).await
}

async fn reset(h: &Harness, body: Value) -> Res {
    h.post_json("/auth/password/reset", body, None).await
}

async fn change(h: &Harness, cookie: Option<&str>, current: &str, new: &str) -> Res {
    h.post_json("/auth/password/change", json!({ "current_password": current, "new_password": new }), cookie).await
}

/// A code that is not `right`.
fn wrong_code(right: &str) -> &'static str {
    if right == "000000" { "111111" } else { "000000" }
}

async fn is_signed_in(h: &Harness, cookie: &str) -> bool {
    h.get("/auth/session", Some(cookie)).await.status == StatusCode::OK
}

async fn sign_up_answers_the_same_bytes_after_the_same_work_whether_or_not_the_address_has_an_account(h: Harness) {
    assert_eq!(h.sign_up("known@example.com", PASSWORD).await.status, StatusCode::OK);
    let runs = h.app.argon2_runs();
    let known = h.sign_up_request("known@example.com", "another password").await;
    let after_known = h.app.argon2_runs();
    let unknown = h.sign_up_request("unknown@example.com", "another password").await;
    assert_eq!(known.status, StatusCode::ACCEPTED, "{}", known.text);
    assert_eq!(known.json, json!({ "status": "verification_sent" }));
    same_answer(&known, &unknown);
    assert!(known.header("set-cookie").is_none());
    assert_eq!((after_known - runs, h.app.argon2_runs() - after_known), (1, 1), "one argon2 run on each path");
}

async fn a_new_address_gets_a_link_and_a_code_and_an_address_with_an_account_a_notice(h: Harness) {
    h.sign_up("owner@example.com", PASSWORD).await;
    h.sign_up_request("owner@example.com", "squatter password").await;
    h.sign_up_request("  New@Example.com ", PASSWORD).await;
    let notice = h.latest_mail("owner@example.com");
    assert!(notice.text.contains("already has one") && !notice.text.contains("token="), "{}", notice.text);
    let mail = h.latest_mail("new@example.com");
    assert_eq!(mail.to, "new@example.com");
    let token = mail_token(&mail);
    assert!(mail.text.contains(&format!("https://app.example.com/#/verify-email?token={token}")), "{}", mail.text);
    assert!(mail.html.contains(&token) && mail.html.contains(&mail_code(&mail)));
    assert!(mail_code(&mail).bytes().all(|b| b.is_ascii_digit()) && mail.text.contains("authfn"));
    // Nothing exists yet: no account for the new address, and the sign-in fails as for a stranger.
    assert!(h.store.user_by_email(&Email::parse("new@example.com").unwrap()).await.unwrap().is_none());
    assert_eq!(h.sign_in("new@example.com", PASSWORD).await.error(), (401, "invalid_credentials"));
}

async fn the_mailed_link_makes_a_proven_account_and_works_once(h: Harness) {
    h.sign_up_request("ada@example.com", PASSWORD).await;
    let token = mail_token(&h.latest_mail("ada@example.com"));
    let res = verify(&h, json!({ "token": token })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json["user_id"].is_string() && res.json["session_id"].is_string());
    assert!(res.set_cookie("__Host-authfn_device").is_some(), "a session exactly like sign-in's");
    assert!(is_signed_in(&h, &res.cookie()).await);
    let user = h.store.user_by_email(&Email::parse("ada@example.com").unwrap()).await.unwrap().unwrap();
    assert!(user.email_verified);
    assert_eq!(h.sign_in("ada@example.com", PASSWORD).await.status, StatusCode::OK, "the password chosen at sign-up");
    assert_eq!(verify(&h, json!({ "token": token })).await.error(), (400, "invalid_token"), "a link works once");
    assert_eq!(verify(&h, json!({ "token": "not a token" })).await.error(), (400, "invalid_token"));
}

async fn the_mailed_code_proves_the_address_from_another_device(h: Harness) {
    h.sign_up_request("phone@example.com", PASSWORD).await;
    let code = mail_code(&h.latest_mail("phone@example.com"));
    let typed = format!("{}-{}", &code[..3], &code[3..]);
    let cli = json!({ "email": "Phone@Example.com", "code": typed, "session_delivery": "token" }).to_string();
    let res = h.request("POST", "/auth/verify-email", cli.into_bytes(), Some(JSON), None, vec![]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json["session_token"].is_string() && res.header("set-cookie").is_none());
    let again = verify(&h, json!({ "email": "phone@example.com", "code": code })).await;
    assert_eq!(again.error(), (400, "invalid_code"));
}

async fn a_verification_lasts_24_hours(h: Harness) {
    h.sign_up_request("late@example.com", PASSWORD).await;
    h.sign_up_request("in-time@example.com", PASSWORD).await;
    let late = h.latest_mail("late@example.com");
    h.wait(24 * 3600 - 1);
    let code = mail_code(&h.latest_mail("in-time@example.com"));
    assert_eq!(verify(&h, json!({ "email": "in-time@example.com", "code": code })).await.status, StatusCode::OK);
    h.wait(1);
    assert_eq!(verify(&h, json!({ "token": mail_token(&late) })).await.error(), (400, "invalid_token"));
    assert_eq!(verify(&h, json!({ "email": "late@example.com", "code": mail_code(&late) })).await.error(), (400, "invalid_code"));
}

async fn a_newer_sign_up_replaces_an_older_one_so_nobody_holds_an_address_they_cannot_read(h: Harness) {
    // A squatter signs up first with the victim's address; the mail goes to the victim.
    h.sign_up_request("victim@example.com", "squatter password").await;
    let squatters = h.latest_mail("victim@example.com");
    h.sign_up_request("victim@example.com", PASSWORD).await;
    let owners = h.latest_mail("victim@example.com");
    assert_eq!(verify(&h, json!({ "token": mail_token(&squatters) })).await.error(), (400, "invalid_token"));
    assert_eq!(verify(&h, json!({ "email": "victim@example.com", "code": mail_code(&squatters) })).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(verify(&h, json!({ "token": mail_token(&owners) })).await.status, StatusCode::OK);
    assert_eq!(h.sign_in("victim@example.com", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(h.sign_in("victim@example.com", "squatter password").await.status, StatusCode::UNAUTHORIZED);
}

async fn five_wrong_codes_kill_the_challenge(h: Harness) {
    h.sign_up_request("guess@example.com", PASSWORD).await;
    let mail = h.latest_mail("guess@example.com");
    let right = mail_code(&mail);
    for _ in 0..4 {
        let res = verify(&h, json!({ "email": "guess@example.com", "code": wrong_code(&right) })).await;
        assert_eq!(res.error(), (400, "invalid_code"));
    }
    // Four wrong codes leave the right one working…
    let four = h.store.challenge(&ChallengeKey::sign_up(&Email::parse("guess@example.com").unwrap()), authfn::Clock::now(&h.clock)).await;
    assert_eq!(four.unwrap().unwrap().failures, 4);
    // …the fifth kills the challenge: the right code and the link are dead too.
    assert_eq!(verify(&h, json!({ "email": "guess@example.com", "code": wrong_code(&right) })).await.error(), (400, "invalid_code"));
    assert_eq!(verify(&h, json!({ "email": "guess@example.com", "code": right })).await.error(), (400, "invalid_code"));
    assert_eq!(verify(&h, json!({ "token": mail_token(&mail) })).await.error(), (400, "invalid_token"));
    // A new sign-up starts afresh.
    assert_eq!(h.sign_up("guess@example.com", PASSWORD).await.status, StatusCode::OK);
}

async fn a_mailed_secret_proves_only_what_it_was_mailed_for(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    forgot(&h, "known@example.com").await;
    let reset_mail = h.latest_mail("known@example.com");
    h.sign_up_request("pending@example.com", PASSWORD).await;
    let sign_up_mail = h.latest_mail("pending@example.com");
    assert_eq!(verify(&h, json!({ "token": mail_token(&reset_mail) })).await.error(), (400, "invalid_token"));
    let as_reset = reset(&h, json!({ "token": mail_token(&sign_up_mail), "password": NEW_PASSWORD })).await;
    assert_eq!(as_reset.error(), (400, "invalid_token"));
    let code = json!({ "email": "pending@example.com", "code": mail_code(&sign_up_mail), "password": NEW_PASSWORD });
    assert_eq!(reset(&h, code).await.error(), (400, "invalid_code"));
    // Both still work for their own purpose.
    assert_eq!(verify(&h, json!({ "token": mail_token(&sign_up_mail) })).await.status, StatusCode::OK);
    let res = reset(&h, json!({ "token": mail_token(&reset_mail), "password": NEW_PASSWORD })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Half a proof, or two, is a clear 400.
    for body in [json!({ "email": "known@example.com" }), json!({ "token": "x", "code": "123456", "email": "known@example.com" })] {
        assert_eq!(verify(&h, body).await.error(), (400, "invalid_request"));
    }
}

async fn a_proof_for_an_address_that_got_an_account_meanwhile_is_a_clear_409_and_is_spent(h: Harness) {
    h.sign_up_request("twice@example.com", PASSWORD).await;
    let mail = h.latest_mail("twice@example.com");
    // Meanwhile the address gets an account another way (here: a deployment with verification off).
    let off = h.reconfigure(&[("AUTHFN_EMAIL_VERIFICATION", "off")]);
    assert_eq!(off.sign_up_request("twice@example.com", "other password").await.status, StatusCode::CREATED);
    assert_eq!(verify(&h, json!({ "token": mail_token(&mail) })).await.error(), (409, "email_taken"));
    assert_eq!(verify(&h, json!({ "token": mail_token(&mail) })).await.error(), (400, "invalid_token"));
    assert_eq!(h.sign_in("twice@example.com", "other password").await.status, StatusCode::OK, "the account is untouched");
}

async fn resend_answers_the_same_for_every_address_and_voids_the_previous_mail(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    h.sign_up_request("pending@example.com", PASSWORD).await;
    let first = h.latest_mail("pending@example.com");
    let resend = |email: &'static str| h.post_json("/auth/verify-email/resend", json!({ "email": email }), None);
    let pending = resend("pending@example.com").await;
    assert_eq!((pending.status, &pending.json), (StatusCode::ACCEPTED, &json!({ "status": "verification_sent" })));
    same_answer(&pending, &resend("known@example.com").await);
    same_answer(&pending, &resend("nobody@example.com").await);
    assert!(h.latest_mail("known@example.com").text.contains("already has one"));
    assert!(h.latest_mail("nobody@example.com").subject.contains("No authfn sign-up is waiting"));
    let second = h.latest_mail("pending@example.com");
    assert_ne!(mail_token(&first), mail_token(&second));
    assert_eq!(verify(&h, json!({ "token": mail_token(&first) })).await.error(), (400, "invalid_token"));
    assert_eq!(verify(&h, json!({ "token": mail_token(&second) })).await.status, StatusCode::OK);
    assert_eq!(h.sign_in("pending@example.com", PASSWORD).await.status, StatusCode::OK, "the password of the sign-up");
}

async fn forgot_answers_the_same_bytes_for_known_and_unknown_addresses_and_mails_both(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    let runs = h.app.argon2_runs();
    let known = forgot(&h, "known@example.com").await;
    let unknown = forgot(&h, "unknown@example.com").await;
    assert_eq!((known.status, &known.json), (StatusCode::ACCEPTED, &json!({ "status": "reset_sent" })));
    same_answer(&known, &unknown);
    assert_eq!(h.app.argon2_runs(), runs, "neither path hashes");
    let mail = h.latest_mail("known@example.com");
    assert!(mail.text.contains(&format!("https://app.example.com/#/reset-password?token={}", mail_token(&mail))));
    let notice = h.latest_mail("unknown@example.com");
    assert!(notice.text.contains("no account") && !notice.text.contains("token="), "{}", notice.text);
}

async fn a_reset_sets_the_password_and_ends_every_session_and_refresh_family(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("reset@example.com", SCOPE).await;
    let laptop = h.sign_in("reset@example.com", PASSWORD).await.cookie();
    forgot(&h, "reset@example.com").await;
    let token = mail_token(&h.latest_mail("reset@example.com"));
    let short = reset(&h, json!({ "token": token, "password": "short" })).await;
    assert_eq!(short.error(), (400, "invalid_request"), "the policy for new passwords applies, and spends nothing");
    let res = reset(&h, json!({ "token": token, "password": NEW_PASSWORD })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(is_signed_in(&h, &res.cookie()).await, "the reset signs in");
    assert!(!is_signed_in(&h, &laptop).await, "every other session ended");
    assert_eq!(h.refresh(tokens.refresh()).await.error(), (400, "invalid_grant"), "every refresh family ended");
    assert_eq!(h.sign_in("reset@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.sign_in("reset@example.com", NEW_PASSWORD).await.status, StatusCode::OK);
    let again = reset(&h, json!({ "token": token, "password": "yet another password" })).await;
    assert_eq!(again.error(), (400, "invalid_token"), "a reset link works once");
}

async fn a_reset_by_code_works_and_a_reset_lasts_15_minutes_and_works_once(h: Harness) {
    h.sign_up("code@example.com", PASSWORD).await;
    forgot(&h, "code@example.com").await;
    let code = mail_code(&h.latest_mail("code@example.com"));
    let by_code = json!({ "email": "code@example.com", "code": code, "password": NEW_PASSWORD });
    assert_eq!(reset(&h, by_code.clone()).await.status, StatusCode::OK);
    assert_eq!(reset(&h, by_code).await.error(), (400, "invalid_code"));
    forgot(&h, "code@example.com").await;
    let late = h.latest_mail("code@example.com");
    h.wait(15 * 60);
    assert_eq!(reset(&h, json!({ "token": mail_token(&late), "password": PASSWORD })).await.error(), (400, "invalid_token"));
    assert_eq!(h.sign_in("code@example.com", NEW_PASSWORD).await.status, StatusCode::OK);
}

async fn changing_the_password_needs_the_current_one_and_ends_every_other_session_and_refresh_family(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("change@example.com", SCOPE).await;
    let laptop = h.sign_in("change@example.com", PASSWORD).await.cookie();
    let phone = h.sign_in("change@example.com", PASSWORD).await.cookie();
    assert_eq!(change(&h, None, PASSWORD, NEW_PASSWORD).await.error(), (401, "unauthenticated"));
    assert_eq!(change(&h, Some(&laptop), "not the password", NEW_PASSWORD).await.error(), (401, "invalid_credentials"));
    assert_eq!(change(&h, Some(&laptop), PASSWORD, "short").await.error(), (400, "invalid_request"));
    assert!(is_signed_in(&h, &phone).await, "refusals change nothing");
    let res = change(&h, Some(&laptop), PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let rotated = res.cookie();
    assert_ne!(rotated, laptop);
    assert!(is_signed_in(&h, &rotated).await);
    assert!(!is_signed_in(&h, &laptop).await && !is_signed_in(&h, &phone).await);
    assert_eq!(h.refresh(tokens.refresh()).await.error(), (400, "invalid_grant"));
    assert_eq!(h.sign_in("change@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.sign_in("change@example.com", NEW_PASSWORD).await.status, StatusCode::OK);
}

async fn mail_to_one_address_is_limited_the_same_whether_or_not_it_has_an_account(h: Harness) {
    let h = h.reconfigure(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "100")]);
    h.sign_up_request("known@example.com", PASSWORD).await;
    h.sign_up_request("unknown@example.com", PASSWORD).await;
    // With the sign-up's, five mails to each address.
    for _ in 0..4 {
        assert_eq!(forgot(&h, "known@example.com").await.status, StatusCode::ACCEPTED);
        assert_eq!(forgot(&h, "unknown@example.com").await.status, StatusCode::ACCEPTED);
    }
    let known = forgot(&h, "known@example.com").await;
    let unknown = forgot(&h, "unknown@example.com").await;
    assert_eq!((known.error(), known.header("retry-after")), ((429, "rate_limited"), Some("3600")));
    same_answer(&known, &unknown);
    assert_eq!(h.mails_to("unknown@example.com").len(), 5);
    let sign_up = h.sign_up_request("known@example.com", PASSWORD).await;
    assert_eq!(sign_up.error(), (429, "rate_limited"), "one budget for every kind of mail");
    assert_eq!(forgot(&h, "other@example.com").await.status, StatusCode::ACCEPTED, "other addresses are unaffected");
    h.wait(3600);
    assert_eq!(forgot(&h, "unknown@example.com").await.status, StatusCode::ACCEPTED);
}

// Tests that need a particular configuration or a failing mailer, so run once each.

/// FAULT (test-only, named as such): a mail provider that refuses every message, as SES does
/// when it is down or throttling.
struct FaultMailProviderDown;

#[async_trait::async_trait]
impl Mailer for FaultMailProviderDown {
    async fn send(&self, _: &Mail) -> Result<(), MailError> {
        Err(MailError::Unavailable("FAULT: the mail provider is down".into()))
    }
}

#[tokio::test]
async fn a_mail_outage_is_a_503_and_writes_nothing_that_needs_the_mail() {
    let working = Harness::memory(&[]).await;
    working.sign_up("known@example.com", PASSWORD).await;
    let down = working.reconfigure(&[]).with_mailer(Arc::new(FaultMailProviderDown));
    let now = || authfn::Clock::now(&working.clock);
    let (new, known) = (Email::parse("new@example.com").unwrap(), Email::parse("known@example.com").unwrap());

    let sign_up = down.sign_up_request("new@example.com", PASSWORD).await;
    assert_eq!((sign_up.error(), sign_up.header("retry-after")), ((503, "mail_unavailable"), Some("1")));
    assert!(working.store.challenge(&ChallengeKey::sign_up(&new), now()).await.unwrap().is_none());
    assert!(working.store.user_by_email(&new).await.unwrap().is_none());
    assert_eq!(forgot(&down, "known@example.com").await.error(), (503, "mail_unavailable"));
    assert!(working.store.challenge(&ChallengeKey::password_reset(&known), now()).await.unwrap().is_none());
    assert_eq!(forgot(&down, "unknown@example.com").await.error(), (503, "mail_unavailable"), "both paths fail alike");
    let resend = down.post_json("/auth/verify-email/resend", json!({ "email": "new@example.com" }), None).await;
    assert_eq!(resend.error(), (503, "mail_unavailable"));
    // Once mail flows again, so do the flows.
    assert_eq!(working.sign_up("new@example.com", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_that_mail_are_rate_limited_per_client_ip() {
    let h = Harness::memory(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "2")]).await;
    for email in ["a@example.com", "b@example.com"] {
        assert_eq!(forgot(&h, email).await.status, StatusCode::ACCEPTED);
    }
    assert_eq!(forgot(&h, "c@example.com").await.error(), (429, "rate_limited"));
    let elsewhere = h.request_from("198.51.100.20", "POST", "/auth/password/forgot", json!({ "email": "c@example.com" }).to_string().into_bytes(), Some(JSON), None, vec![("origin", TRUSTED_ORIGIN)]).await;
    assert_eq!(elsewhere.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn with_verification_off_sign_up_creates_the_account_at_once_and_says_when_the_address_is_taken() {
    let h = Harness::memory(&[("AUTHFN_EMAIL_VERIFICATION", "off")]).await;
    let res = h.sign_up_request("ada@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert!(is_signed_in(&h, &res.cookie()).await);
    let user = h.store.user_by_email(&Email::parse("ada@example.com").unwrap()).await.unwrap().unwrap();
    assert!(!user.email_verified, "nothing proved the address");
    assert_eq!(h.sign_up_request("ADA@example.com", PASSWORD).await.error(), (409, "email_taken"));
    assert!(h.outbox.messages().is_empty(), "sign-up mails nothing");
    // Recovery still works, and proves the address.
    forgot(&h, "ada@example.com").await;
    let token = mail_token(&h.latest_mail("ada@example.com"));
    assert_eq!(reset(&h, json!({ "token": token, "password": NEW_PASSWORD })).await.status, StatusCode::OK);
    assert!(h.store.user_by_email(&Email::parse("ada@example.com").unwrap()).await.unwrap().unwrap().email_verified);
}

#[tokio::test]
async fn the_functions_that_mail_links_refuse_to_start_without_an_app_url() {
    let h = Harness::memory(&[("AUTHFN_APP_URL", "")]).await;
    for endpoint in authfn::Endpoint::ALL {
        assert_eq!(h.app.check_can_serve(endpoint).is_err(), endpoint.sends_mail(), "{endpoint:?}");
    }
    let off = h.reconfigure(&[("AUTHFN_EMAIL_VERIFICATION", "off")]);
    assert!(off.app.check_can_serve(authfn::Endpoint::SignUp).is_ok(), "with verification off sign-up mails nothing");
}
