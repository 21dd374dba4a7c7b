//! The account flows that prove an address by mail: sign-up and verify-email, resend, password
//! forgot / reset / change, email change, account deletion, and email-code sign-in. Driven through `App::handle` with the manual clock; every mail is
//! read back from the outbox, never assumed.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
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
    changing_the_email_needs_the_password_and_happens_when_the_new_address_is_proven,
    secrets_mailed_to_an_address_the_account_moved_away_from_stop_working,
    a_change_onto_an_address_with_an_account_answers_and_mails_the_signed_in_user_the_same,
    the_change_code_works_only_in_the_account_session_and_a_change_lasts_15_minutes,
    a_newer_change_voids_the_older_and_five_wrong_codes_kill_it,
    a_change_onto_an_address_taken_meanwhile_is_a_clear_409_and_is_spent,
    deleting_the_account_needs_the_password_and_leaves_nothing_of_it,
    a_wrong_password_at_deletion_counts_against_the_sign_in_lockout,
    an_account_without_a_password_deletes_or_changes_address_only_within_5_minutes_of_signing_in,
);

/// Email-code sign-in is off by default; these run with it on.
mod email_code {
    use super::*;

    for_each_store!(
        code_requests_answer_the_same_bytes_for_known_and_unknown_addresses_and_mail_both,
        a_mailed_code_signs_in_like_sign_in_once_and_lasts_15_minutes,
        five_wrong_sign_in_codes_kill_the_code,
        a_code_sign_in_proves_an_account_made_before_addresses_were_proven,
    );
}

fn same_answer(a: &Res, b: &Res) {
    assert_eq!(
        (a.status, a.all_headers(), &a.text),
        (b.status, b.all_headers(), &b.text)
    );
}

async fn verify(h: &Harness, body: Value) -> Res {
    h.post_json("/auth/verify-email", body, None).await
}

async fn forgot(h: &Harness, email: &str) -> Res {
    h.post_json("/auth/password/forgot", json!({ "email": email }), None)
        .await
}

async fn reset(h: &Harness, body: Value) -> Res {
    h.post_json("/auth/password/reset", body, None).await
}

async fn change(h: &Harness, cookie: Option<&str>, current: &str, new: &str) -> Res {
    h.post_json(
        "/auth/password/change",
        json!({ "current_password": current, "new_password": new }),
        cookie,
    )
    .await
}

/// A code that is not `right`.
fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

async fn is_signed_in(h: &Harness, cookie: &str) -> bool {
    h.get("/auth/session", Some(cookie)).await.status == StatusCode::OK
}

async fn sign_up_answers_the_same_bytes_after_the_same_work_whether_or_not_the_address_has_an_account(
    h: Harness,
) {
    assert_eq!(
        h.sign_up("known@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    let runs = h.app.argon2_runs();
    let known = h
        .sign_up_request("known@example.com", "another password")
        .await;
    let after_known = h.app.argon2_runs();
    let unknown = h
        .sign_up_request("unknown@example.com", "another password")
        .await;
    assert_eq!(known.status, StatusCode::ACCEPTED, "{}", known.text);
    assert_eq!(known.json, json!({ "status": "verification_sent" }));
    same_answer(&known, &unknown);
    assert!(known.header("set-cookie").is_none());
    assert_eq!(
        (after_known - runs, h.app.argon2_runs() - after_known),
        (1, 1),
        "one argon2 run on each path"
    );
}

async fn a_new_address_gets_a_link_and_a_code_and_an_address_with_an_account_a_notice(h: Harness) {
    h.sign_up("owner@example.com", PASSWORD).await;
    h.sign_up_request("owner@example.com", "squatter password")
        .await;
    h.sign_up_request("  New@Example.com ", PASSWORD).await;
    let notice = h.latest_mail("owner@example.com");
    assert!(
        notice.text.contains("already has one") && !notice.text.contains("token="),
        "{}",
        notice.text
    );
    let mail = h.latest_mail("new@example.com");
    assert_eq!(mail.to, "new@example.com");
    let token = mail_token(&mail);
    assert!(
        mail.text.contains(&format!(
            "https://app.example.com/#/verify-email?token={token}"
        )),
        "{}",
        mail.text
    );
    assert!(mail.html.contains(&token) && mail.html.contains(&mail_code(&mail)));
    assert!(mail_code(&mail).bytes().all(|b| b.is_ascii_digit()) && mail.text.contains("authfn"));
    // Nothing exists yet: no account for the new address, and the sign-in fails as for a stranger.
    assert!(
        h.store
            .user_by_email(&Email::parse("new@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        h.sign_in("new@example.com", PASSWORD).await.error(),
        (401, "invalid_credentials")
    );
}

async fn the_mailed_link_makes_a_proven_account_and_works_once(h: Harness) {
    h.sign_up_request("ada@example.com", PASSWORD).await;
    let token = mail_token(&h.latest_mail("ada@example.com"));
    let res = verify(&h, json!({ "token": token })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json["user_id"].is_string() && res.json["session_id"].is_string());
    assert!(
        res.set_cookie("__Host-authfn_device").is_some(),
        "a session exactly like sign-in's"
    );
    assert!(is_signed_in(&h, &res.cookie()).await);
    let user = h
        .store
        .user_by_email(&Email::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(user.email_verified);
    assert_eq!(
        h.sign_in("ada@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the password chosen at sign-up"
    );
    assert_eq!(
        verify(&h, json!({ "token": token })).await.error(),
        (400, "invalid_token"),
        "a link works once"
    );
    assert_eq!(
        verify(&h, json!({ "token": "not a token" })).await.error(),
        (400, "invalid_token")
    );
}

async fn the_mailed_code_proves_the_address_from_another_device(h: Harness) {
    h.sign_up_request("phone@example.com", PASSWORD).await;
    let code = mail_code(&h.latest_mail("phone@example.com"));
    let typed = format!("{}-{}", &code[..3], &code[3..]);
    let cli = json!({ "email": "Phone@Example.com", "code": typed, "session_delivery": "token" })
        .to_string();
    let res = h
        .request(
            "POST",
            "/auth/verify-email",
            cli.into_bytes(),
            Some(JSON),
            None,
            vec![],
        )
        .await;
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
    assert_eq!(
        verify(&h, json!({ "email": "in-time@example.com", "code": code }))
            .await
            .status,
        StatusCode::OK
    );
    h.wait(1);
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&late) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        verify(
            &h,
            json!({ "email": "late@example.com", "code": mail_code(&late) })
        )
        .await
        .error(),
        (400, "invalid_code")
    );
}

async fn a_newer_sign_up_replaces_an_older_one_so_nobody_holds_an_address_they_cannot_read(
    h: Harness,
) {
    // A squatter signs up first with the victim's address; the mail goes to the victim.
    h.sign_up_request("victim@example.com", "squatter password")
        .await;
    let squatters = h.latest_mail("victim@example.com");
    h.sign_up_request("victim@example.com", PASSWORD).await;
    let owners = h.latest_mail("victim@example.com");
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&squatters) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        verify(
            &h,
            json!({ "email": "victim@example.com", "code": mail_code(&squatters) })
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&owners) }))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        h.sign_in("victim@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.sign_in("victim@example.com", "squatter password")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

async fn five_wrong_codes_kill_the_challenge(h: Harness) {
    h.sign_up_request("guess@example.com", PASSWORD).await;
    let mail = h.latest_mail("guess@example.com");
    let right = mail_code(&mail);
    for _ in 0..4 {
        let res = verify(
            &h,
            json!({ "email": "guess@example.com", "code": wrong_code(&right) }),
        )
        .await;
        assert_eq!(res.error(), (400, "invalid_code"));
    }
    // Four wrong codes leave the right one working…
    let four = h
        .store
        .challenge(
            &ChallengeKey::sign_up(&Email::parse("guess@example.com").unwrap()),
            authfn::Clock::now(&h.clock),
        )
        .await;
    assert_eq!(four.unwrap().unwrap().failures, 4);
    // …the fifth kills the challenge: the right code and the link are dead too.
    assert_eq!(
        verify(
            &h,
            json!({ "email": "guess@example.com", "code": wrong_code(&right) })
        )
        .await
        .error(),
        (400, "invalid_code")
    );
    assert_eq!(
        verify(&h, json!({ "email": "guess@example.com", "code": right }))
            .await
            .error(),
        (400, "invalid_code")
    );
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&mail) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    // A new sign-up starts afresh.
    assert_eq!(
        h.sign_up("guess@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn a_mailed_secret_proves_only_what_it_was_mailed_for(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    forgot(&h, "known@example.com").await;
    let reset_mail = h.latest_mail("known@example.com");
    h.sign_up_request("pending@example.com", PASSWORD).await;
    let sign_up_mail = h.latest_mail("pending@example.com");
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&reset_mail) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    let as_reset = reset(
        &h,
        json!({ "token": mail_token(&sign_up_mail), "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(as_reset.error(), (400, "invalid_token"));
    let code = json!({ "email": "pending@example.com", "code": mail_code(&sign_up_mail), "password": NEW_PASSWORD });
    assert_eq!(reset(&h, code).await.error(), (400, "invalid_code"));
    // Both still work for their own purpose.
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&sign_up_mail) }))
            .await
            .status,
        StatusCode::OK
    );
    let res = reset(
        &h,
        json!({ "token": mail_token(&reset_mail), "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Half a proof, or two, is a clear 400.
    for body in [
        json!({ "email": "known@example.com" }),
        json!({ "token": "x", "code": "123456", "email": "known@example.com" }),
    ] {
        assert_eq!(verify(&h, body).await.error(), (400, "invalid_request"));
    }
}

async fn a_proof_for_an_address_that_got_an_account_meanwhile_is_a_clear_409_and_is_spent(
    h: Harness,
) {
    h.sign_up_request("twice@example.com", PASSWORD).await;
    let mail = h.latest_mail("twice@example.com");
    // Meanwhile the address gets an account another way (here: a deployment with verification off).
    let off = h.reconfigure(&[("AUTHFN_EMAIL_VERIFICATION", "off")]);
    assert_eq!(
        off.sign_up_request("twice@example.com", "other password")
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&mail) }))
            .await
            .error(),
        (409, "email_taken")
    );
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&mail) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        h.sign_in("twice@example.com", "other password")
            .await
            .status,
        StatusCode::OK,
        "the account is untouched"
    );
}

async fn resend_answers_the_same_for_every_address_and_voids_the_previous_mail(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    // A sign-up for the known address writes only an inert decoy: no sign-up is pending there.
    h.sign_up_request("known@example.com", "squatter password")
        .await;
    h.sign_up_request("pending@example.com", PASSWORD).await;
    let first = h.latest_mail("pending@example.com");
    let resend = |email: &'static str| {
        h.post_json("/auth/verify-email/resend", json!({ "email": email }), None)
    };
    let pending = resend("pending@example.com").await;
    assert_eq!(
        (pending.status, &pending.json),
        (
            StatusCode::ACCEPTED,
            &json!({ "status": "verification_sent" })
        )
    );
    same_answer(&pending, &resend("known@example.com").await);
    same_answer(&pending, &resend("nobody@example.com").await);
    assert!(
        h.latest_mail("known@example.com")
            .text
            .contains("already has one")
    );
    assert!(
        h.latest_mail("nobody@example.com")
            .subject
            .contains("No authfn sign-up is waiting")
    );
    let second = h.latest_mail("pending@example.com");
    assert_ne!(mail_token(&first), mail_token(&second));
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&first) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        verify(&h, json!({ "token": mail_token(&second) }))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        h.sign_in("pending@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the password of the sign-up"
    );
}

async fn forgot_answers_the_same_bytes_for_known_and_unknown_addresses_and_mails_both(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    let runs = h.app.argon2_runs();
    let known = forgot(&h, "known@example.com").await;
    let unknown = forgot(&h, "unknown@example.com").await;
    assert_eq!(
        (known.status, &known.json),
        (StatusCode::ACCEPTED, &json!({ "status": "reset_sent" }))
    );
    same_answer(&known, &unknown);
    assert_eq!(h.app.argon2_runs(), runs, "neither path hashes");
    let mail = h.latest_mail("known@example.com");
    assert!(mail.text.contains(&format!(
        "https://app.example.com/#/reset-password?token={}",
        mail_token(&mail)
    )));
    let notice = h.latest_mail("unknown@example.com");
    assert!(
        notice.text.contains("no account") && !notice.text.contains("token="),
        "{}",
        notice.text
    );
}

async fn a_reset_sets_the_password_and_ends_every_session_and_refresh_family(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("reset@example.com", SCOPE).await;
    let laptop = h.sign_in("reset@example.com", PASSWORD).await.cookie();
    forgot(&h, "reset@example.com").await;
    let token = mail_token(&h.latest_mail("reset@example.com"));
    let short = reset(&h, json!({ "token": token, "password": "short" })).await;
    assert_eq!(
        short.error(),
        (400, "invalid_request"),
        "the policy for new passwords applies, and spends nothing"
    );
    let res = reset(&h, json!({ "token": token, "password": NEW_PASSWORD })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(is_signed_in(&h, &res.cookie()).await, "the reset signs in");
    assert!(
        !is_signed_in(&h, &laptop).await,
        "every other session ended"
    );
    assert_eq!(
        h.refresh(tokens.refresh()).await.error(),
        (400, "invalid_grant"),
        "every refresh family ended"
    );
    assert_eq!(
        h.sign_in("reset@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.sign_in("reset@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
    let again = reset(
        &h,
        json!({ "token": token, "password": "yet another password" }),
    )
    .await;
    assert_eq!(
        again.error(),
        (400, "invalid_token"),
        "a reset link works once"
    );
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
    assert_eq!(
        reset(
            &h,
            json!({ "token": mail_token(&late), "password": PASSWORD })
        )
        .await
        .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        h.sign_in("code@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn changing_the_password_needs_the_current_one_and_ends_every_other_session_and_refresh_family(
    h: Harness,
) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("change@example.com", SCOPE).await;
    let laptop = h.sign_in("change@example.com", PASSWORD).await.cookie();
    let phone = h.sign_in("change@example.com", PASSWORD).await.cookie();
    assert_eq!(
        change(&h, None, PASSWORD, NEW_PASSWORD).await.error(),
        (401, "unauthenticated")
    );
    assert_eq!(
        change(&h, Some(&laptop), "not the password", NEW_PASSWORD)
            .await
            .error(),
        (401, "invalid_credentials")
    );
    assert_eq!(
        change(&h, Some(&laptop), PASSWORD, "short").await.error(),
        (400, "invalid_request")
    );
    assert!(is_signed_in(&h, &phone).await, "refusals change nothing");
    let res = change(&h, Some(&laptop), PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let rotated = res.cookie();
    assert_ne!(rotated, laptop);
    assert!(is_signed_in(&h, &rotated).await);
    assert!(!is_signed_in(&h, &laptop).await && !is_signed_in(&h, &phone).await);
    assert_eq!(
        h.refresh(tokens.refresh()).await.error(),
        (400, "invalid_grant")
    );
    assert_eq!(
        h.sign_in("change@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.sign_in("change@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn mail_to_one_address_is_limited_the_same_whether_or_not_it_has_an_account(h: Harness) {
    let h = h.reconfigure(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "100")]);
    h.sign_up_request("known@example.com", PASSWORD).await;
    h.sign_up_request("unknown@example.com", PASSWORD).await;
    // With the sign-up's, five mails to each address.
    for _ in 0..4 {
        assert_eq!(
            forgot(&h, "known@example.com").await.status,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            forgot(&h, "unknown@example.com").await.status,
            StatusCode::ACCEPTED
        );
    }
    let known = forgot(&h, "known@example.com").await;
    let unknown = forgot(&h, "unknown@example.com").await;
    assert_eq!(
        (known.error(), known.header("retry-after")),
        ((429, "rate_limited"), Some("3600"))
    );
    same_answer(&known, &unknown);
    assert_eq!(h.mails_to("unknown@example.com").len(), 5);
    let sign_up = h.sign_up_request("known@example.com", PASSWORD).await;
    assert_eq!(
        sign_up.error(),
        (429, "rate_limited"),
        "one budget for every kind of mail"
    );
    assert_eq!(
        forgot(&h, "other@example.com").await.status,
        StatusCode::ACCEPTED,
        "other addresses are unaffected"
    );
    h.wait(3600);
    assert_eq!(
        forgot(&h, "unknown@example.com").await.status,
        StatusCode::ACCEPTED
    );
}

// Tests that need a particular configuration or a failing mailer, so run once each.

/// FAULT (test-only, named as such): a mail provider that refuses every message, as SES does
/// when it is down or throttling.
struct FaultMailProviderDown;

#[async_trait::async_trait]
impl Mailer for FaultMailProviderDown {
    async fn send(&self, _: &Mail) -> Result<(), MailError> {
        Err(MailError::Unavailable(
            "FAULT: the mail provider is down".into(),
        ))
    }
}

#[tokio::test]
async fn a_mail_outage_is_a_503_and_writes_nothing_that_needs_the_mail() {
    let working = Harness::memory(&[]).await;
    working.sign_up("known@example.com", PASSWORD).await;
    let down = working
        .reconfigure(&[])
        .with_mailer(Arc::new(FaultMailProviderDown));
    let now = || authfn::Clock::now(&working.clock);
    let (new, known) = (
        Email::parse("new@example.com").unwrap(),
        Email::parse("known@example.com").unwrap(),
    );

    let sign_up = down.sign_up_request("new@example.com", PASSWORD).await;
    assert_eq!(
        (sign_up.error(), sign_up.header("retry-after")),
        ((503, "mail_unavailable"), Some("1"))
    );
    assert!(
        working
            .store
            .challenge(&ChallengeKey::sign_up(&new), now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(working.store.user_by_email(&new).await.unwrap().is_none());
    assert_eq!(
        forgot(&down, "known@example.com").await.error(),
        (503, "mail_unavailable")
    );
    assert!(
        working
            .store
            .challenge(&ChallengeKey::password_reset(&known), now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        forgot(&down, "unknown@example.com").await.error(),
        (503, "mail_unavailable"),
        "both paths fail alike"
    );
    let resend = down
        .post_json(
            "/auth/verify-email/resend",
            json!({ "email": "new@example.com" }),
            None,
        )
        .await;
    assert_eq!(resend.error(), (503, "mail_unavailable"));
    // Once mail flows again, so do the flows.
    assert_eq!(
        working.sign_up("new@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn requests_that_mail_are_rate_limited_per_client_ip() {
    let h = Harness::memory(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "2")]).await;
    for email in ["a@example.com", "b@example.com"] {
        assert_eq!(forgot(&h, email).await.status, StatusCode::ACCEPTED);
    }
    assert_eq!(
        forgot(&h, "c@example.com").await.error(),
        (429, "rate_limited")
    );
    let elsewhere = h
        .request_from(
            "198.51.100.20",
            "POST",
            "/auth/password/forgot",
            json!({ "email": "c@example.com" }).to_string().into_bytes(),
            Some(JSON),
            None,
            vec![("origin", TRUSTED_ORIGIN)],
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn with_verification_off_sign_up_creates_the_account_at_once_and_says_when_the_address_is_taken()
 {
    let h = Harness::memory(&[("AUTHFN_EMAIL_VERIFICATION", "off")]).await;
    let res = h.sign_up_request("ada@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert!(is_signed_in(&h, &res.cookie()).await);
    let user = h
        .store
        .user_by_email(&Email::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!user.email_verified, "nothing proved the address");
    assert_eq!(
        h.sign_up_request("ADA@example.com", PASSWORD).await.error(),
        (409, "email_taken")
    );
    assert!(h.outbox.messages().is_empty(), "sign-up mails nothing");
    // Recovery still works, and proves the address.
    forgot(&h, "ada@example.com").await;
    let token = mail_token(&h.latest_mail("ada@example.com"));
    assert_eq!(
        reset(&h, json!({ "token": token, "password": NEW_PASSWORD }))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        h.store
            .user_by_email(&Email::parse("ada@example.com").unwrap())
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
}

#[tokio::test]
async fn the_functions_that_mail_links_refuse_to_start_without_an_app_url() {
    let h = Harness::memory(&[("AUTHFN_APP_URL", "")]).await;
    for endpoint in authfn::Endpoint::ALL {
        assert_eq!(
            h.app.check_can_serve(endpoint).is_err(),
            endpoint.sends_mail(),
            "{endpoint:?}"
        );
    }
    let off = h.reconfigure(&[("AUTHFN_EMAIL_VERIFICATION", "off")]);
    assert!(
        off.app.check_can_serve(authfn::Endpoint::SignUp).is_ok(),
        "with verification off sign-up mails nothing"
    );
}

// Email change, account deletion and email-code sign-in.

async fn change_email(h: &Harness, cookie: Option<&str>, body: Value) -> Res {
    h.post_json("/auth/email/change", body, cookie).await
}

async fn verify_change(h: &Harness, cookie: Option<&str>, body: Value) -> Res {
    h.post_json("/auth/email/verify", body, cookie).await
}

async fn delete_account(h: &Harness, cookie: Option<&str>, body: Value) -> Res {
    h.post_json("/auth/account/delete", body, cookie).await
}

async fn user(h: &Harness, email: &str) -> Option<authfn::store::UserRecord> {
    h.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
}

async fn changing_the_email_needs_the_password_and_happens_when_the_new_address_is_proven(
    h: Harness,
) {
    let cookie = h.sign_up("old@example.com", PASSWORD).await.cookie();
    let to_new =
        |password: Option<&str>| json!({ "new_email": "New@Example.com", "password": password });
    assert_eq!(
        change_email(&h, None, to_new(Some(PASSWORD))).await.error(),
        (401, "unauthenticated")
    );
    assert_eq!(
        change_email(&h, Some(&cookie), to_new(Some("not the password")))
            .await
            .error(),
        (401, "invalid_credentials")
    );
    assert_eq!(
        change_email(&h, Some(&cookie), to_new(None)).await.error(),
        (401, "reauthentication_required")
    );
    let same = json!({ "new_email": "old@example.com", "password": PASSWORD });
    assert_eq!(
        change_email(&h, Some(&cookie), same).await.error(),
        (400, "invalid_request")
    );
    assert!(
        h.mails_to("new@example.com").is_empty(),
        "refusals mail nothing"
    );
    let res = change_email(&h, Some(&cookie), to_new(Some(PASSWORD))).await;
    assert_eq!(
        (res.status, &res.json),
        (
            StatusCode::ACCEPTED,
            &json!({ "status": "verification_sent" })
        ),
        "{}",
        res.text
    );
    let notice = h.latest_mail("old@example.com");
    assert!(
        notice.text.contains("new@example.com") && !notice.text.contains("token="),
        "{}",
        notice.text
    );
    let mail = h.latest_mail("new@example.com");
    let token = mail_token(&mail);
    assert!(
        mail.text.contains(&format!(
            "https://app.example.com/#/verify-email-change?token={token}"
        )),
        "{}",
        mail.text
    );
    // Nothing changes until the new address is proven.
    assert!(user(&h, "new@example.com").await.is_none());
    assert_eq!(
        h.sign_in("old@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    // The link works without a session (it may be opened on another device), once.
    let res = verify_change(&h, None, json!({ "token": token })).await;
    assert_eq!(
        (res.status, &res.json),
        (StatusCode::OK, &json!({ "email": "new@example.com" })),
        "{}",
        res.text
    );
    assert_eq!(
        verify_change(&h, None, json!({ "token": token }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert!(user(&h, "new@example.com").await.unwrap().email_verified);
    assert!(is_signed_in(&h, &cookie).await, "the session goes on");
    assert_eq!(
        h.sign_in("new@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.sign_in("old@example.com", PASSWORD).await.error(),
        (401, "invalid_credentials")
    );
    // The old address is free: it can make a new account.
    assert_eq!(
        h.sign_up("old@example.com", "someone else's password")
            .await
            .status,
        StatusCode::OK
    );
}

async fn secrets_mailed_to_an_address_the_account_moved_away_from_stop_working(h: Harness) {
    let h = with_code_sign_in(&h);
    let cookie = h.sign_up("old@example.com", PASSWORD).await.cookie();
    forgot(&h, "old@example.com").await;
    let reset_mail = h.latest_mail("old@example.com");
    request_code(&h, "old@example.com").await;
    let code_mail = h.latest_mail("old@example.com");
    change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "new@example.com", "password": PASSWORD }),
    )
    .await;
    let token = mail_token(&h.latest_mail("new@example.com"));
    assert_eq!(
        verify_change(&h, None, json!({ "token": token }))
            .await
            .status,
        StatusCode::OK
    );
    let reset_res = reset(
        &h,
        json!({ "token": mail_token(&reset_mail), "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(reset_res.error(), (400, "invalid_token"));
    let code = json!({ "email": "old@example.com", "code": mail_code(&code_mail) });
    assert_eq!(
        code_sign_in(&h, code, None).await.error(),
        (400, "invalid_code")
    );
    assert_eq!(
        code_sign_in(&h, json!({ "token": mail_token(&code_mail) }), None)
            .await
            .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        h.sign_in("new@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );
}

async fn a_change_onto_an_address_with_an_account_answers_and_mails_the_signed_in_user_the_same(
    h: Harness,
) {
    h.sign_up("taken@example.com", PASSWORD).await;
    let cookie = h.sign_up("mover@example.com", PASSWORD).await.cookie();
    let runs = h.app.argon2_runs();
    let onto_taken = change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "taken@example.com", "password": PASSWORD }),
    )
    .await;
    let notice_when_taken = h.latest_mail("mover@example.com");
    let onto_free = change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "free@example.com", "password": PASSWORD }),
    )
    .await;
    let notice_when_free = h.latest_mail("mover@example.com");
    assert_eq!(
        onto_taken.status,
        StatusCode::ACCEPTED,
        "{}",
        onto_taken.text
    );
    same_answer(&onto_taken, &onto_free);
    assert_eq!(h.app.argon2_runs() - runs, 2, "one argon2 run each");
    // What the mover's own mailbox gets says nothing either, but for the address asked for.
    let tell =
        |m: &authfn::mail::SentMail, addr: &str| (m.subject.clone(), m.text.replace(addr, "ADDR"));
    assert_eq!(
        tell(&notice_when_taken, "taken@example.com"),
        tell(&notice_when_free, "free@example.com")
    );
    // The address with an account gets a notice, with nothing that proves anything.
    let notice = h.latest_mail("taken@example.com");
    assert!(
        notice.text.contains("already has an account") && !notice.text.contains("token="),
        "{}",
        notice.text
    );
    assert_eq!(
        user(&h, "mover@example.com").await.unwrap().email.as_str(),
        "mover@example.com"
    );
}

async fn the_change_code_works_only_in_the_account_session_and_a_change_lasts_15_minutes(
    h: Harness,
) {
    let cookie = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    let other = h.sign_up("eve@example.com", PASSWORD).await.cookie();
    change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "ada@new.example", "password": PASSWORD }),
    )
    .await;
    let code = mail_code(&h.latest_mail("ada@new.example"));
    assert_eq!(
        verify_change(&h, None, json!({ "code": code }))
            .await
            .error(),
        (401, "unauthenticated")
    );
    assert_eq!(
        verify_change(&h, Some(&other), json!({ "code": code }))
            .await
            .error(),
        (400, "invalid_code"),
        "another account's session"
    );
    assert_eq!(
        verify_change(&h, Some(&cookie), json!({ "token": "x", "code": code }))
            .await
            .error(),
        (400, "invalid_request")
    );
    let res = verify_change(&h, Some(&cookie), json!({ "code": code })).await;
    assert_eq!(
        (res.status, &res.json),
        (StatusCode::OK, &json!({ "email": "ada@new.example" })),
        "{}",
        res.text
    );
    assert_eq!(
        verify_change(&h, Some(&cookie), json!({ "code": code }))
            .await
            .error(),
        (400, "invalid_code")
    );
    change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "ada@late.example", "password": PASSWORD }),
    )
    .await;
    let late = h.latest_mail("ada@late.example");
    h.wait(15 * 60);
    assert_eq!(
        verify_change(&h, None, json!({ "token": mail_token(&late) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert!(user(&h, "ada@late.example").await.is_none());
}

async fn a_newer_change_voids_the_older_and_five_wrong_codes_kill_it(h: Harness) {
    let cookie = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "first@example.com", "password": PASSWORD }),
    )
    .await;
    let first = h.latest_mail("first@example.com");
    change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "second@example.com", "password": PASSWORD }),
    )
    .await;
    let second = h.latest_mail("second@example.com");
    assert_eq!(
        verify_change(&h, None, json!({ "token": mail_token(&first) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    let right = mail_code(&second);
    for _ in 0..5 {
        assert_eq!(
            verify_change(&h, Some(&cookie), json!({ "code": wrong_code(&right) }))
                .await
                .error(),
            (400, "invalid_code")
        );
    }
    assert_eq!(
        verify_change(&h, Some(&cookie), json!({ "code": right }))
            .await
            .error(),
        (400, "invalid_code")
    );
    assert_eq!(
        verify_change(&h, None, json!({ "token": mail_token(&second) }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert!(user(&h, "ada@example.com").await.is_some());
    // A mailed secret of another purpose proves no change.
    forgot(&h, "ada@example.com").await;
    let reset_token = mail_token(&h.latest_mail("ada@example.com"));
    assert_eq!(
        verify_change(&h, None, json!({ "token": reset_token }))
            .await
            .error(),
        (400, "invalid_token")
    );
}

async fn a_change_onto_an_address_taken_meanwhile_is_a_clear_409_and_is_spent(h: Harness) {
    let cookie = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    change_email(
        &h,
        Some(&cookie),
        json!({ "new_email": "contested@example.com", "password": PASSWORD }),
    )
    .await;
    let token = mail_token(&h.latest_mail("contested@example.com"));
    assert_eq!(
        h.sign_up("contested@example.com", "their password")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        verify_change(&h, None, json!({ "token": token }))
            .await
            .error(),
        (409, "email_taken")
    );
    assert_eq!(
        verify_change(&h, None, json!({ "token": token }))
            .await
            .error(),
        (400, "invalid_token")
    );
    assert_eq!(
        h.sign_in("ada@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "ada keeps her address"
    );
    assert_eq!(
        h.sign_in("contested@example.com", "their password")
            .await
            .status,
        StatusCode::OK
    );
}

async fn deleting_the_account_needs_the_password_and_leaves_nothing_of_it(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("gone@example.com", SCOPE).await;
    let laptop = h.sign_in("gone@example.com", PASSWORD).await.cookie();
    let phone = h.sign_in("gone@example.com", PASSWORD).await.cookie();
    let before = user(&h, "gone@example.com").await.unwrap();
    // Mails waiting to be proven: a reset, and a change of address.
    forgot(&h, "gone@example.com").await;
    change_email(
        &h,
        Some(&phone),
        json!({ "new_email": "gone-next@example.com", "password": PASSWORD }),
    )
    .await;
    let pending = [
        ChallengeKey::password_reset(&before.email),
        ChallengeKey::email_change(&before.id),
    ];
    for key in &pending {
        assert!(
            h.store
                .challenge(key, authfn::Clock::now(&h.clock))
                .await
                .unwrap()
                .is_some(),
            "{key:?}"
        );
    }
    assert_eq!(
        delete_account(&h, None, json!({ "password": PASSWORD }))
            .await
            .error(),
        (401, "unauthenticated")
    );
    assert_eq!(
        delete_account(&h, Some(&laptop), json!({ "password": "not the password" }))
            .await
            .error(),
        (401, "invalid_credentials")
    );
    assert_eq!(
        delete_account(&h, Some(&laptop), json!({})).await.error(),
        (401, "reauthentication_required")
    );
    assert!(
        user(&h, "gone@example.com").await.is_some(),
        "refusals delete nothing"
    );
    let res = delete_account(&h, Some(&laptop), json!({ "password": PASSWORD })).await;
    assert_eq!(
        (res.status, &res.json),
        (StatusCode::OK, &json!({ "status": "deleted" })),
        "{}",
        res.text
    );
    let cleared = res.set_cookie("__Host-authfn_session").unwrap();
    assert!(
        cleared.starts_with("__Host-authfn_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // Sessions and refresh tokens are refused…
    assert!(!is_signed_in(&h, &laptop).await && !is_signed_in(&h, &phone).await);
    assert_eq!(
        h.refresh(tokens.refresh()).await.error(),
        (400, "invalid_grant")
    );
    // …and nothing readable of the user is left.
    assert!(h.store.user_by_id(&before.id).await.unwrap().is_none());
    assert!(user(&h, "gone@example.com").await.is_none());
    let now = authfn::Clock::now(&h.clock);
    let keys = &h.app.config().session_keys;
    for cookie in [&laptop, &phone] {
        let token =
            authfn::token::SessionToken::verify(cookie.split_once('=').unwrap().1, keys).unwrap();
        assert!(
            h.store
                .session(&token.token.hash(), now)
                .await
                .unwrap()
                .is_none()
        );
    }
    let refresh = authfn::oauth::RefreshToken::presented(tokens.refresh()).hash();
    assert!(
        h.store
            .refresh_token(&refresh, now)
            .await
            .unwrap()
            .is_none()
    );
    for key in &pending {
        assert!(
            h.store.challenge(key, now).await.unwrap().is_none(),
            "{key:?}"
        );
    }
    // Its address signs in as an unknown one does, and may sign up again, as a new account.
    let signed_in = h.sign_in("gone@example.com", PASSWORD).await;
    same_answer(&signed_in, &h.sign_in("never@example.com", PASSWORD).await);
    let again = h.sign_up("gone@example.com", PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_ne!(again.json["user_id"].as_str(), Some(before.id.as_str()));
}

async fn a_wrong_password_at_deletion_counts_against_the_sign_in_lockout(h: Harness) {
    let cookie = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    for _ in 0..4 {
        assert_eq!(
            delete_account(&h, Some(&cookie), json!({ "password": "guess" }))
                .await
                .error(),
            (401, "invalid_credentials")
        );
    }
    assert_eq!(
        delete_account(&h, Some(&cookie), json!({ "password": "guess" }))
            .await
            .error(),
        (423, "account_locked")
    );
    assert_eq!(
        h.sign_in("ada@example.com", PASSWORD).await.error(),
        (423, "account_locked"),
        "a stolen session is no way around the lockout"
    );
    assert_eq!(
        delete_account(&h, Some(&cookie), json!({ "password": PASSWORD }))
            .await
            .error(),
        (423, "account_locked")
    );
    assert!(user(&h, "ada@example.com").await.is_some());
}

/// An account made by an identity provider, as the federation callback makes it: no password,
/// a proven address, one linked identity, and a session begun now. Returns its session cookie.
async fn federated_user(h: &Harness, email: &str) -> (String, authfn::store::FederatedIdentity) {
    use authfn::store::{FederatedIdentity, Insert, SessionRecord, UserRecord};
    use authfn::token::{SessionId, SessionToken, UserId};
    let now = authfn::Clock::now(&h.clock);
    let user = UserRecord {
        id: UserId::generate().unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: None,
        created_at: now,
        email_verified: true,
        session_epoch: 0,
        factors: authfn::store::FactorSummary::default(),
    };
    let identity = FederatedIdentity {
        issuer: "https://idp.example".into(),
        subject: format!("sub-{email}"),
    };
    let token = SessionToken::generate().unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let session = SessionRecord {
        id: SessionId::generate().unwrap(),
        token_hash: token.hash(),
        user_id: user.id.clone(),
        user_epoch: 0,
        created_at: now,
        authenticated_at: now,
        expires_at: now.plus(hour * 12),
        idle_expires_at: now.plus(hour),
        renewed_at: now,
        device: None,
        network: None,
    };
    assert_eq!(
        h.store
            .create_federated_user(&user, &identity, &session)
            .await
            .unwrap(),
        Insert::Inserted
    );
    (
        format!(
            "__Host-authfn_session={}",
            token.sign(&user.id, &h.app.config().session_keys).secret()
        ),
        identity,
    )
}

async fn an_account_without_a_password_deletes_or_changes_address_only_within_5_minutes_of_signing_in(
    h: Harness,
) {
    let (stale, _) = federated_user(&h, "stale@example.com").await;
    let (fresh, identity) = federated_user(&h, "fresh@example.com").await;
    h.wait(5 * 60 - 1);
    // A password proves nothing for an account that has none.
    let res = delete_account(&h, Some(&fresh), json!({ "password": PASSWORD })).await;
    assert_eq!(res.error(), (401, "invalid_credentials"));
    let change = change_email(
        &h,
        Some(&fresh),
        json!({ "new_email": "fresh@new.example" }),
    )
    .await;
    assert_eq!(change.status, StatusCode::ACCEPTED, "{}", change.text);
    assert_eq!(
        delete_account(&h, Some(&fresh), json!({})).await.status,
        StatusCode::OK
    );
    assert!(
        h.store.user_by_identity(&identity).await.unwrap().is_none(),
        "its identity link is gone"
    );
    h.wait(1);
    assert_eq!(
        delete_account(&h, Some(&stale), json!({})).await.error(),
        (401, "reauthentication_required")
    );
    let change = change_email(
        &h,
        Some(&stale),
        json!({ "new_email": "stale@new.example" }),
    )
    .await;
    assert_eq!(change.error(), (401, "reauthentication_required"));
    assert!(user(&h, "stale@example.com").await.is_some());
}

#[tokio::test]
async fn a_mail_outage_during_an_email_change_or_a_code_request_stores_no_challenge() {
    let working = Harness::memory(&[("AUTHFN_EMAIL_CODE_SIGN_IN", "true")]).await;
    let cookie = working.sign_up("ada@example.com", PASSWORD).await.cookie();
    let down = working
        .reconfigure(&[])
        .with_mailer(Arc::new(FaultMailProviderDown));
    let ada = working
        .store
        .user_by_email(&Email::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let now = || authfn::Clock::now(&working.clock);
    let change = change_email(
        &down,
        Some(&cookie),
        json!({ "new_email": "new@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(change.error(), (503, "mail_unavailable"));
    assert!(
        working
            .store
            .challenge(&ChallengeKey::email_change(&ada.id), now())
            .await
            .unwrap()
            .is_none()
    );
    let code = down
        .post_json(
            "/auth/email-code/request",
            json!({ "email": "ada@example.com" }),
            None,
        )
        .await;
    assert_eq!(code.error(), (503, "mail_unavailable"));
    assert!(
        working
            .store
            .challenge(&ChallengeKey::sign_in_code(&ada.email), now())
            .await
            .unwrap()
            .is_none()
    );
}

async fn request_code(h: &Harness, email: &str) -> Res {
    h.post_json("/auth/email-code/request", json!({ "email": email }), None)
        .await
}

async fn code_sign_in(h: &Harness, body: Value, cookie: Option<&str>) -> Res {
    h.post_json("/auth/email-code/sign-in", body, cookie).await
}

/// The same store and clock with email-code sign-in turned on.
fn with_code_sign_in(h: &Harness) -> Harness {
    h.reconfigure(&[("AUTHFN_EMAIL_CODE_SIGN_IN", "true")])
}

#[tokio::test]
async fn code_sign_in_is_off_unless_turned_on_and_then_answers_as_an_unknown_route() {
    let h = Harness::memory(&[]).await;
    h.sign_up("ada@example.com", PASSWORD).await;
    let unknown_route = h
        .post_json(
            "/auth/no-such-endpoint",
            json!({ "email": "ada@example.com" }),
            None,
        )
        .await;
    assert_eq!(unknown_route.error(), (404, "not_found"));
    for path in ["/auth/email-code/request", "/auth/email-code/sign-in"] {
        let res = h
            .post_json(
                path,
                json!({ "email": "ada@example.com", "code": "123456" }),
                None,
            )
            .await;
        assert_eq!(
            (res.status, &res.text),
            (unknown_route.status, &unknown_route.text),
            "{path}"
        );
    }
    assert_eq!(
        h.mails_to("ada@example.com").len(),
        1,
        "only the sign-up's mail"
    );
    assert_eq!(
        request_code(&with_code_sign_in(&h), "ada@example.com")
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

async fn code_requests_answer_the_same_bytes_for_known_and_unknown_addresses_and_mail_both(
    h: Harness,
) {
    let h = with_code_sign_in(&h);
    h.sign_up("known@example.com", PASSWORD).await;
    let runs = h.app.argon2_runs();
    let known = request_code(&h, "known@example.com").await;
    let unknown = request_code(&h, "unknown@example.com").await;
    assert_eq!(
        (known.status, &known.json),
        (StatusCode::ACCEPTED, &json!({ "status": "code_sent" })),
        "{}",
        known.text
    );
    same_answer(&known, &unknown);
    assert_eq!(h.app.argon2_runs(), runs, "neither path hashes");
    let mail = h.latest_mail("known@example.com");
    assert!(
        mail.text.contains(&format!(
            "https://app.example.com/#/email-code?token={}",
            mail_token(&mail)
        )),
        "{}",
        mail.text
    );
    assert_eq!(mail_code(&mail).len(), 6);
    let notice = h.latest_mail("unknown@example.com");
    assert!(
        notice.text.contains("no account") && !notice.text.contains("token="),
        "{}",
        notice.text
    );
    // One budget per address with every other kind of mail (the sign-up's was the first).
    for _ in 0..3 {
        request_code(&h, "known@example.com").await;
        request_code(&h, "unknown@example.com").await;
    }
    let (known, unknown) = (
        request_code(&h, "known@example.com").await,
        request_code(&h, "unknown@example.com").await,
    );
    assert_eq!(known.error(), (429, "rate_limited"));
    assert_eq!(
        unknown.status,
        StatusCode::ACCEPTED,
        "the unknown address had no sign-up mail"
    );
    assert_eq!(
        request_code(&h, "unknown@example.com").await.error(),
        (429, "rate_limited")
    );
}

async fn a_mailed_code_signs_in_like_sign_in_once_and_lasts_15_minutes(h: Harness) {
    let h = with_code_sign_in(&h);
    let old = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    request_code(&h, "ada@example.com").await;
    let mail = h.latest_mail("ada@example.com");
    let code = mail_code(&mail);
    let res = code_sign_in(
        &h,
        json!({ "email": "Ada@Example.com", "code": code }),
        Some(&old),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(
        res.json["user_id"].is_string() && res.set_cookie("__Host-authfn_device").is_some(),
        "a session exactly like sign-in's"
    );
    assert!(is_signed_in(&h, &res.cookie()).await);
    assert!(
        !is_signed_in(&h, &old).await,
        "the presented session is rotated, not reused"
    );
    assert_eq!(
        code_sign_in(
            &h,
            json!({ "email": "ada@example.com", "code": code }),
            None
        )
        .await
        .error(),
        (400, "invalid_code")
    );
    assert_eq!(
        code_sign_in(&h, json!({ "token": mail_token(&mail) }), None)
            .await
            .error(),
        (400, "invalid_token"),
        "link and code are one secret"
    );
    // The link, from a client that takes its session as a token.
    request_code(&h, "ada@example.com").await;
    let link = mail_token(&h.latest_mail("ada@example.com"));
    let cli = json!({ "token": link, "session_delivery": "token" }).to_string();
    let res = h
        .request(
            "POST",
            "/auth/email-code/sign-in",
            cli.into_bytes(),
            Some(JSON),
            None,
            vec![],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json["session_token"].is_string() && res.header("set-cookie").is_none());
    // A sign-up's or a reset's secret signs nobody in.
    forgot(&h, "ada@example.com").await;
    let reset_mail = h.latest_mail("ada@example.com");
    assert_eq!(
        code_sign_in(&h, json!({ "token": mail_token(&reset_mail) }), None)
            .await
            .error(),
        (400, "invalid_token")
    );
    request_code(&h, "ada@example.com").await;
    let late = h.latest_mail("ada@example.com");
    h.wait(15 * 60);
    let res = code_sign_in(
        &h,
        json!({ "email": "ada@example.com", "code": mail_code(&late) }),
        None,
    )
    .await;
    assert_eq!(res.error(), (400, "invalid_code"));
}

async fn five_wrong_sign_in_codes_kill_the_code(h: Harness) {
    let h = with_code_sign_in(&h);
    h.sign_up("ada@example.com", PASSWORD).await;
    request_code(&h, "ada@example.com").await;
    let right = mail_code(&h.latest_mail("ada@example.com"));
    for _ in 0..5 {
        let res = code_sign_in(
            &h,
            json!({ "email": "ada@example.com", "code": wrong_code(&right) }),
            None,
        )
        .await;
        assert_eq!(res.error(), (400, "invalid_code"));
    }
    assert_eq!(
        code_sign_in(
            &h,
            json!({ "email": "ada@example.com", "code": right }),
            None
        )
        .await
        .error(),
        (400, "invalid_code")
    );
    // Codes for an address without an account are wrong like any other.
    let res = code_sign_in(
        &h,
        json!({ "email": "nobody@example.com", "code": right }),
        None,
    )
    .await;
    assert_eq!(res.error(), (400, "invalid_code"));
}

async fn a_code_sign_in_proves_an_account_made_before_addresses_were_proven(h: Harness) {
    // Accounts made before proofs were required read as unproven, as do those made with
    // verification off: only a proven address may be linked to by email.
    let off = h.reconfigure(&[("AUTHFN_EMAIL_VERIFICATION", "off")]);
    assert_eq!(
        off.sign_up_request("legacy@example.com", PASSWORD)
            .await
            .status,
        StatusCode::CREATED
    );
    assert!(!user(&h, "legacy@example.com").await.unwrap().email_verified);
    let h = with_code_sign_in(&h);
    assert_eq!(
        h.sign_in("legacy@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert!(
        !user(&h, "legacy@example.com").await.unwrap().email_verified,
        "a password proves no address"
    );
    request_code(&h, "legacy@example.com").await;
    let code = mail_code(&h.latest_mail("legacy@example.com"));
    assert_eq!(
        code_sign_in(
            &h,
            json!({ "email": "legacy@example.com", "code": code }),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert!(user(&h, "legacy@example.com").await.unwrap().email_verified);
}
