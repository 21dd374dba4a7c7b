//! Second factors: the sign-in gate (password, mailed code, reset and federation end in a
//! pending sign-in for an account with a factor), `/auth/mfa/verify` with TOTP and recovery
//! codes, the factor lockout, enrolment, step-up and the data keys. Driven through
//! `App::handle` with the manual clock; TOTP codes are computed here from the secret the
//! enrolment showed, as an authenticator app would.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
mod support;

use std::sync::Arc;

use authfn::UnixTime;
use authfn::totp::TotpSecret;
use http::StatusCode;
use serde_json::{Value, json};
use support::idp::{FakeIdp, Login, RETURN_TO};
use support::*;

const SESSION: &str = "__Host-authfn_session";
const PENDING: &str = "__Host-authfn_mfa";
const DEVICE: &str = "__Host-authfn_device";

for_each_store!(
    a_password_alone_no_longer_signs_in_and_totp_finishes_the_sign_in,
    a_code_works_once_and_an_older_step_never_after_a_newer,
    codes_are_accepted_one_step_either_side_and_no_further,
    five_wrong_factors_end_the_pending_sign_in,
    the_factor_lockout_holds_across_new_pending_sign_ins_but_not_for_the_owners_device,
    a_pending_sign_in_is_no_session_and_a_session_is_no_pending_sign_in,
    a_pending_sign_in_lasts_5_minutes,
    signing_out_everywhere_voids_pending_sign_ins,
    a_recovery_code_signs_in_once_and_the_owner_is_told,
    regenerating_recovery_codes_voids_the_old_ones,
    a_mailed_code_and_a_password_reset_are_first_factors_only,
    sensitive_changes_need_a_full_sign_in_within_5_minutes,
    a_newer_enrolment_replaces_the_older_and_a_wrong_or_late_code_turns_nothing_on,
    turning_totp_off_lets_the_password_alone_sign_in_again,
    token_clients_get_the_pending_sign_in_in_the_body_and_no_cookie,
    the_totp_secret_is_stored_encrypted_and_a_rotated_ring_still_reads_it,
    the_factors_list_says_what_the_account_has_and_never_a_secret,
);

for_each_store!(racing: two_requests_with_one_recovery_code_make_one_session);

/// An account with TOTP on: its session cookie from sign-up, its secret and recovery codes.
struct Account {
    email: String,
    session: String,
    device: String,
    secret: TotpSecret,
    codes: Vec<String>,
}

async fn enroll(h: &Harness, session: &str, body: Value) -> Res {
    h.post_json("/auth/mfa/totp/enroll", body, Some(session))
        .await
}

async fn confirm(h: &Harness, session: &str, code: &str) -> Res {
    h.post_json(
        "/auth/mfa/totp/confirm",
        json!({ "code": code }),
        Some(session),
    )
    .await
}

/// The code an authenticator app shows `offset` seconds from now.
fn code(h: &Harness, secret: &TotpSecret, offset: i64) -> String {
    secret.code_at(UnixTime(h.now() + offset)).unwrap()
}

/// Signs up, turns TOTP on, and moves to the next time step so the confirming code is spent.
async fn enrolled(h: &Harness, email: &str) -> Account {
    let signed_up = h.sign_up(email, PASSWORD).await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.text);
    let session = signed_up.cookie_named(SESSION);
    let device = signed_up.cookie_named(DEVICE);
    let begun = enroll(h, &session, json!({ "current_password": PASSWORD })).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text);
    let secret = TotpSecret::from_base32(begun.json["secret"].as_str().unwrap()).unwrap();
    let on = confirm(h, &session, &code(h, &secret, 0)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    let codes = on.json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    h.wait(30);
    Account {
        email: email.to_owned(),
        session,
        device,
        secret,
        codes,
    }
}

/// Signs in with the password and returns the pending sign-in's cookie.
async fn pending(h: &Harness, email: &str) -> String {
    let res = h.sign_in(email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["mfa_required"], true, "{}", res.text);
    res.cookie_named(PENDING)
}

async fn verify(h: &Harness, cookies: &str, method: &str, code: &str) -> Res {
    h.post_json(
        "/auth/mfa/verify",
        json!({ "method": method, "code": code }),
        Some(cookies),
    )
    .await
}

async fn session_of(h: &Harness, cookie: &str) -> Res {
    h.get("/auth/session", Some(cookie)).await
}

async fn a_password_alone_no_longer_signs_in_and_totp_finishes_the_sign_in(h: Harness) {
    let a = enrolled(&h, "two@example.com").await;
    let res = h.sign_in(&a.email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["mfa_required"], true);
    assert_eq!(res.json["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(res.json["expires_at"], h.now() + 300);
    assert!(res.json.get("user_id").is_none() && res.json.get("mfa_token").is_none());
    assert!(res.set_cookie(SESSION).is_none(), "no session yet");
    let set = res.set_cookie(PENDING).unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Max-Age=300"),
        "{set}"
    );
    let pending = res.cookie_named(PENDING);
    assert_eq!(
        session_of(&h, &pending).await.error(),
        (401, "unauthenticated")
    );

    let done = verify(&h, &pending, "totp", &code(&h, &a.secret, 0)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.json["session_id"].is_string(), "{}", done.text);
    let cleared = done.set_cookie(PENDING).unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let session = done.cookie_named(SESSION);
    let me = session_of(&h, &session).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["authenticated_at"], h.now());
    assert_eq!(me.json["mfa"], true);
    // The pending sign-in is spent.
    let again = verify(&h, &pending, "totp", &code(&h, &a.secret, 30)).await;
    assert_eq!(again.error(), (401, "mfa_expired"));
}

async fn a_code_works_once_and_an_older_step_never_after_a_newer(h: Harness) {
    let a = enrolled(&h, "replay@example.com").await;
    let now = code(&h, &a.secret, 0);
    let first = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &first, "totp", &now).await.status,
        StatusCode::OK
    );
    let second = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &second, "totp", &now).await.error(),
        (401, "invalid_code"),
        "a replayed code"
    );
    // The next step's code (a fast phone clock), then the current one: older, refused.
    assert_eq!(
        verify(&h, &second, "totp", &code(&h, &a.secret, 30))
            .await
            .status,
        StatusCode::OK
    );
    h.wait(1);
    let third = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &third, "totp", &code(&h, &a.secret, 0))
            .await
            .error(),
        (401, "invalid_code"),
        "an older step after a newer"
    );
}

async fn codes_are_accepted_one_step_either_side_and_no_further(h: Harness) {
    let a = enrolled(&h, "skew@example.com").await;
    h.wait(300);
    let p = pending(&h, &a.email).await;
    for offset in [-60, 60] {
        assert_eq!(
            verify(&h, &p, "totp", &code(&h, &a.secret, offset))
                .await
                .error(),
            (401, "invalid_code"),
            "{offset} s"
        );
    }
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, -30))
            .await
            .status,
        StatusCode::OK,
        "one step behind"
    );
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, 30))
            .await
            .status,
        StatusCode::OK,
        "one step ahead"
    );
}

async fn five_wrong_factors_end_the_pending_sign_in(h: Harness) {
    // A looser account lockout, so the pending sign-in's own limit is what shows.
    let h = h.reconfigure(&[("AUTHFN_LOCKOUT_MAX_FAILURES", "20")]);
    let a = enrolled(&h, "five@example.com").await;
    let p = pending(&h, &a.email).await;
    let right = code(&h, &a.secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        assert_eq!(
            verify(&h, &p, "totp", wrong).await.error(),
            (401, "invalid_code")
        );
    }
    assert_eq!(
        verify(&h, &p, "recovery_code", "AAAA-AAAA-AAAA-AAAA")
            .await
            .error(),
        (401, "invalid_code")
    );
    assert_eq!(
        verify(&h, &p, "totp", &right).await.error(),
        (401, "mfa_expired")
    );
    // A new pending sign-in is not held by the dead one.
    let p = pending(&h, &a.email).await;
    assert_eq!(verify(&h, &p, "totp", &right).await.status, StatusCode::OK);
}

async fn the_factor_lockout_holds_across_new_pending_sign_ins_but_not_for_the_owners_device(
    h: Harness,
) {
    let a = enrolled(&h, "grind@example.com").await;
    let right = code(&h, &a.secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let p = pending(&h, &a.email).await;
    for _ in 0..3 {
        assert_eq!(
            verify(&h, &p, "totp", wrong).await.error(),
            (401, "invalid_code")
        );
    }
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "totp", wrong).await.error(),
        (401, "invalid_code")
    );
    let locked = verify(&h, &p, "totp", wrong).await;
    assert_eq!(
        locked.error(),
        (423, "account_locked"),
        "the 5th, over two sign-ins"
    );
    assert!(locked.header("retry-after").is_some());
    // A third pending sign-in: even the right code is refused, unchecked.
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "totp", &right).await.error(),
        (423, "account_locked")
    );
    // The owner's browser, which signed in to the account before, has its own budget.
    let p = h
        .sign_in_with_cookies(&a.email, PASSWORD, &a.device)
        .await
        .cookie_named(PENDING);
    let own = verify(&h, &format!("{p}; {}", a.device), "totp", &right).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    // The lock lifts with the lockout time.
    h.wait(15 * 60);
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, 0)).await.status,
        StatusCode::OK
    );
}

async fn a_pending_sign_in_is_no_session_and_a_session_is_no_pending_sign_in(h: Harness) {
    let a = enrolled(&h, "kinds@example.com").await;
    let p = pending(&h, &a.email).await;
    let value = p.split_once('=').unwrap().1;
    let as_session = format!("{SESSION}={value}");
    assert_eq!(
        session_of(&h, &as_session).await.error(),
        (401, "unauthenticated")
    );
    let bearer = h
        .request(
            "GET",
            "/auth/session",
            vec![],
            None,
            None,
            vec![("authorization", &format!("Bearer {value}"))],
        )
        .await;
    assert_eq!(bearer.error(), (401, "unauthenticated"));
    // A session's value where the pending sign-in belongs.
    let session_value = a.session.split_once('=').unwrap().1;
    let as_pending = format!("{PENDING}={session_value}");
    let right = code(&h, &a.secret, 0);
    assert_eq!(
        verify(&h, &as_pending, "totp", &right).await.error(),
        (401, "mfa_expired")
    );
    let in_body = h
        .post_json(
            "/auth/mfa/verify",
            json!({ "method": "totp", "code": right, "mfa_token": session_value }),
            None,
        )
        .await;
    assert_eq!(in_body.error(), (401, "mfa_expired"));
    // Neither attempt spent the code.
    assert_eq!(verify(&h, &p, "totp", &right).await.status, StatusCode::OK);
}

async fn a_pending_sign_in_lasts_5_minutes(h: Harness) {
    let a = enrolled(&h, "late@example.com").await;
    let p = pending(&h, &a.email).await;
    h.wait(299);
    let q = pending(&h, &a.email).await;
    h.wait(1);
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, 0))
            .await
            .error(),
        (401, "mfa_expired")
    );
    assert_eq!(
        verify(&h, &q, "totp", &code(&h, &a.secret, 0)).await.status,
        StatusCode::OK
    );
}

async fn signing_out_everywhere_voids_pending_sign_ins(h: Harness) {
    let a = enrolled(&h, "everywhere@example.com").await;
    let p = pending(&h, &a.email).await;
    let out = h
        .post_json("/auth/sign-out/all", json!({}), Some(&a.session))
        .await;
    assert!(out.status.is_success(), "{}", out.text);
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, 0))
            .await
            .error(),
        (401, "mfa_expired")
    );
}

async fn a_recovery_code_signs_in_once_and_the_owner_is_told(h: Harness) {
    let a = enrolled(&h, "recover@example.com").await;
    assert_eq!(a.codes.len(), 10);
    let p = pending(&h, &a.email).await;
    // As typed from paper: lower case, spaces for dashes.
    let typed = a.codes[0].to_lowercase().replace('-', " ");
    let res = verify(&h, &p, "recovery_code", &typed).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mail = h.latest_mail(&a.email);
    assert!(
        mail.subject.contains("recovery code was used"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("9 unused codes"), "{}", mail.text);
    assert!(!mail.text.contains(&a.codes[0]), "the code is not mailed");
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "recovery_code", &a.codes[0]).await.error(),
        (401, "invalid_code")
    );
    assert_eq!(
        verify(&h, &p, "recovery_code", &a.codes[1]).await.status,
        StatusCode::OK
    );
}

/// Of two answers, exactly one is a session and the other a 401.
fn one_winner(x: &Res, y: &Res) {
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", x.text, y.text);
}

async fn two_requests_with_one_recovery_code_make_one_session(h: Harness) {
    let a = enrolled(&h, "race@example.com").await;
    // One pending sign-in, two requests.
    let p = pending(&h, &a.email).await;
    let (x, y) = tokio::join!(
        verify(&h, &p, "recovery_code", &a.codes[0]),
        verify(&h, &p, "recovery_code", &a.codes[0])
    );
    one_winner(&x, &y);
    // Two pending sign-ins, one code.
    let (p, q) = (pending(&h, &a.email).await, pending(&h, &a.email).await);
    let (x, y) = tokio::join!(
        verify(&h, &p, "recovery_code", &a.codes[1]),
        verify(&h, &q, "recovery_code", &a.codes[1])
    );
    one_winner(&x, &y);
    // Two pending sign-ins, one TOTP code.
    let (p, q) = (pending(&h, &a.email).await, pending(&h, &a.email).await);
    let right = code(&h, &a.secret, 0);
    let (x, y) = tokio::join!(
        verify(&h, &p, "totp", &right),
        verify(&h, &q, "totp", &right)
    );
    one_winner(&x, &y);
}

async fn regenerate(h: &Harness, session: &str) -> Res {
    h.post_json(
        "/auth/mfa/recovery-codes/regenerate",
        json!({}),
        Some(session),
    )
    .await
}

async fn a_full_sign_in(h: &Harness, a: &Account) -> String {
    let p = pending(h, &a.email).await;
    let res = verify(h, &p, "totp", &code(h, &a.secret, 0)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    h.wait(30);
    res.cookie_named(SESSION)
}

async fn regenerating_recovery_codes_voids_the_old_ones(h: Harness) {
    let a = enrolled(&h, "regen@example.com").await;
    let session = a_full_sign_in(&h, &a).await;
    let res = regenerate(&h, &session).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let fresh: Vec<String> = res.json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !a.codes.contains(c)));
    assert!(h.latest_mail(&a.email).text.contains("New recovery codes"));
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "recovery_code", &a.codes[2]).await.error(),
        (401, "invalid_code")
    );
    assert_eq!(
        verify(&h, &p, "recovery_code", &fresh[0]).await.status,
        StatusCode::OK
    );
    // Without a factor there is nothing for codes to stand in for.
    let plain = h
        .sign_up("plain@example.com", PASSWORD)
        .await
        .cookie_named(SESSION);
    assert_eq!(regenerate(&h, &plain).await.error(), (409, "no_factor"));
}

async fn a_mailed_code_and_a_password_reset_are_first_factors_only(h: Harness) {
    let h = h.reconfigure(&[("AUTHFN_EMAIL_CODE_SIGN_IN", "true")]);
    let a = enrolled(&h, "mailed@example.com").await;
    h.post_json(
        "/auth/email-code/request",
        json!({ "email": a.email }),
        None,
    )
    .await;
    let token = mail_token(&h.latest_mail(&a.email));
    let res = h
        .post_json("/auth/email-code/sign-in", json!({ "token": token }), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["mfa_required"], true, "{}", res.text);
    assert!(res.set_cookie(SESSION).is_none());
    let done = verify(
        &h,
        &res.cookie_named(PENDING),
        "totp",
        &code(&h, &a.secret, 0),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    h.wait(30);

    h.post_json("/auth/password/forgot", json!({ "email": a.email }), None)
        .await;
    let token = mail_token(&h.latest_mail(&a.email));
    let res = h
        .post_json(
            "/auth/password/reset",
            json!({ "token": token, "password": "a whole new passphrase" }),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.json["mfa_required"], true,
        "a mailbox alone takes no account over"
    );
    assert!(res.set_cookie(SESSION).is_none());
    let done = verify(
        &h,
        &res.cookie_named(PENDING),
        "totp",
        &code(&h, &a.secret, 0),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
}

async fn sensitive_changes_need_a_full_sign_in_within_5_minutes(h: Harness) {
    let a = enrolled(&h, "stepup@example.com").await;
    let session = a_full_sign_in(&h, &a).await;
    h.wait(5 * 60 - 30);
    let stale = [
        (
            "/auth/mfa/totp/disable",
            json!({ "current_password": PASSWORD }),
        ),
        ("/auth/mfa/recovery-codes/regenerate", json!({})),
        (
            "/auth/email/change",
            json!({ "new_email": "moved@example.com", "password": PASSWORD }),
        ),
        ("/auth/account/delete", json!({ "password": PASSWORD })),
        (
            "/auth/password/change",
            json!({ "current_password": PASSWORD, "new_password": "another fine passphrase" }),
        ),
        (
            "/auth/mfa/totp/enroll",
            json!({ "current_password": PASSWORD }),
        ),
    ];
    for (path, body) in stale {
        let res = h.post_json(path, body, Some(&session)).await;
        // Enrolling again is refused first because TOTP is on; the rest need a fresh sign-in,
        // which the password alone is not.
        let expected = if path.ends_with("enroll") {
            (409, "totp_enabled")
        } else {
            (401, "reauthentication_required")
        };
        assert_eq!(res.error(), expected, "{path}: {}", res.text);
    }
    let fresh = a_full_sign_in(&h, &a).await;
    let off = h
        .post_json("/auth/mfa/totp/disable", json!({}), Some(&fresh))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
}

async fn a_newer_enrolment_replaces_the_older_and_a_wrong_or_late_code_turns_nothing_on(
    h: Harness,
) {
    let session = h
        .sign_up("enrol@example.com", PASSWORD)
        .await
        .cookie_named(SESSION);
    assert_eq!(
        enroll(&h, &session, json!({})).await.error(),
        (401, "reauthentication_required"),
        "a password account without a factor confirms with its password"
    );
    assert_eq!(
        confirm(&h, &session, "123456").await.error(),
        (400, "enrolment_expired")
    );
    let first = enroll(&h, &session, json!({ "current_password": PASSWORD })).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json["expires_at"], h.now() + 600);
    let uri = first.json["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/authfn:enrol%40example.com?secret=")
            && uri.contains("&algorithm=SHA1&digits=6&period=30"),
        "{uri}"
    );
    let svg = first.json["qr_svg"].as_str().unwrap();
    assert!(svg.starts_with("<svg ") && !svg.contains("script"), "{svg}");
    let old = TotpSecret::from_base32(first.json["secret"].as_str().unwrap()).unwrap();
    let second = enroll(&h, &session, json!({ "current_password": PASSWORD })).await;
    let new = TotpSecret::from_base32(second.json["secret"].as_str().unwrap()).unwrap();
    assert_eq!(
        confirm(&h, &session, &code(&h, &old, 0)).await.error(),
        (400, "invalid_code"),
        "the replaced enrolment's code"
    );
    h.wait(10 * 60);
    assert_eq!(
        confirm(&h, &session, &code(&h, &new, 0)).await.error(),
        (400, "enrolment_expired")
    );
    let third = enroll(&h, &session, json!({ "current_password": PASSWORD })).await;
    let secret = TotpSecret::from_base32(third.json["secret"].as_str().unwrap()).unwrap();
    let on = confirm(&h, &session, &code(&h, &secret, 0)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    let mail = h.latest_mail("enrol@example.com");
    assert!(
        mail.text.contains("authenticator app was turned on"),
        "{}",
        mail.text
    );
    assert_eq!(
        confirm(&h, &session, &code(&h, &secret, 30)).await.error(),
        (409, "totp_enabled")
    );
    assert!(h.sign_in("enrol@example.com", PASSWORD).await.json["mfa_required"] == true);
}

async fn turning_totp_off_lets_the_password_alone_sign_in_again(h: Harness) {
    let a = enrolled(&h, "off@example.com").await;
    let session = a_full_sign_in(&h, &a).await;
    let off = h
        .post_json("/auth/mfa/totp/disable", json!({}), Some(&session))
        .await;
    assert_eq!(off.json, json!({ "status": "disabled" }));
    assert!(h.latest_mail(&a.email).text.contains("turned off"));
    let res = h.sign_in(&a.email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json.get("mfa_required").is_none(), "{}", res.text);
    let signed_in = res.cookie_named(SESSION);
    let factors = h.get("/auth/mfa", Some(&signed_in)).await;
    assert_eq!(factors.json["totp"], json!({ "enabled": false }));
    assert_eq!(
        factors.json["recovery_codes_remaining"], 0,
        "the codes went too"
    );
    assert_eq!(session_of(&h, &signed_in).await.json["mfa"], false);
}

async fn token_clients_get_the_pending_sign_in_in_the_body_and_no_cookie(h: Harness) {
    let a = enrolled(&h, "cli@example.com").await;
    let post = |path: &'static str, body: Value| {
        let h = &h;
        async move {
            h.request(
                "POST",
                path,
                body.to_string().into_bytes(),
                Some(JSON),
                None,
                vec![],
            )
            .await
        }
    };
    let res = post(
        "/auth/sign-in",
        json!({ "email": a.email, "password": PASSWORD, "session_delivery": "token" }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.header("set-cookie").is_none());
    let token = res.json["mfa_token"].as_str().unwrap().to_owned();
    let done = post(
        "/auth/mfa/verify",
        json!({ "method": "totp", "code": code(&h, &a.secret, 0), "mfa_token": token, "session_delivery": "token" }),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.header("set-cookie").is_none());
    let session = done.json["session_token"].as_str().unwrap();
    let me = h
        .request(
            "GET",
            "/auth/session",
            vec![],
            None,
            None,
            vec![("authorization", &format!("Bearer {session}"))],
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
}

async fn the_totp_secret_is_stored_encrypted_and_a_rotated_ring_still_reads_it(h: Harness) {
    let a = enrolled(&h, "rest@example.com").await;
    let user = h
        .store
        .user_by_email(&authfn::email::Email::parse(&a.email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let stored = h.store.totp_factor(&user.id).await.unwrap().unwrap();
    assert!(stored.encrypted_secret.starts_with("v1."));
    let b32 = a.secret.to_base32();
    let raw_b64 = authfn::crypto::b64url(a.secret.secret());
    assert!(
        !stored.encrypted_secret.contains(&b32) && !stored.encrypted_secret.contains(&raw_b64),
        "not in plaintext"
    );
    let codes = h.store.recovery_codes(&user.id).await.unwrap().unwrap();
    assert_eq!(codes.code_hashes.len(), 10, "only hashes are kept");
    // A new current key, the old one kept for decryption.
    let rotated = format!("{},{}", key_b64(44), key_b64(43));
    let h = h.reconfigure(&[("AUTHFN_DATA_KEYS", &rotated)]);
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, 0)).await.status,
        StatusCode::OK
    );
    // Without the old key the secret is unreadable: a 500, never a sign-in.
    let h = h.reconfigure(&[("AUTHFN_DATA_KEYS", &key_b64(44))]);
    h.wait(30);
    let p = pending(&h, &a.email).await;
    assert_eq!(
        verify(&h, &p, "totp", &code(&h, &a.secret, 0))
            .await
            .error(),
        (500, "internal_error")
    );
}

async fn the_factors_list_says_what_the_account_has_and_never_a_secret(h: Harness) {
    let a = enrolled(&h, "list@example.com").await;
    let session = a_full_sign_in(&h, &a).await;
    let res = h.get("/auth/mfa", Some(&session)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["totp"]["enabled"], true);
    assert_eq!(res.json["totp"]["created_at"], h.now() - 60);
    assert_eq!(res.json["totp"]["last_used_at"], h.now() - 30);
    assert_eq!(res.json["passkeys"], json!([]));
    assert_eq!(res.json["recovery_codes_remaining"], 10);
    assert_eq!(res.json["mfa_required"], true);
    assert_eq!(res.json["authenticated_at"], h.now() - 30);
    assert!(!res.text.contains(&a.secret.to_base32()));
    assert_eq!(
        h.get("/auth/mfa", None).await.error(),
        (401, "unauthenticated")
    );
}

/// A named fault: the mail provider refuses every message.
struct FaultMailProviderDown;

#[async_trait::async_trait]
impl authfn::mail::Mailer for FaultMailProviderDown {
    async fn send(&self, _: &authfn::mail::Mail) -> Result<(), authfn::mail::MailError> {
        Err(authfn::mail::MailError::Unavailable(
            "FAULT: the mail provider is down".into(),
        ))
    }
}

#[tokio::test]
async fn a_mail_outage_does_not_undo_a_factor_change_or_a_sign_in() {
    let working = Harness::memory(&[]).await;
    let a = enrolled(&working, "outage@example.com").await;
    let down = working
        .reconfigure(&[])
        .with_mailer(Arc::new(FaultMailProviderDown));
    // A recovery code signs in, though its notice cannot be sent.
    let p = pending(&down, &a.email).await;
    let res = verify(&down, &p, "recovery_code", &a.codes[0]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let session = res.cookie_named(SESSION);
    let off = down
        .post_json("/auth/mfa/totp/disable", json!({}), Some(&session))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    let res = down.sign_in(&a.email, PASSWORD).await;
    assert!(
        res.json.get("mfa_required").is_none(),
        "it is off: {}",
        res.text
    );
}

#[tokio::test]
async fn the_totp_endpoints_refuse_to_start_without_data_keys() {
    let h = Harness::memory(&[]).await;
    let settings = [
        ("AUTHFN_SESSION_KEYS", key_b64(1)),
        ("AUTHFN_TRUSTED_ORIGINS", TRUSTED_ORIGIN.to_owned()),
        ("AUTHFN_APP_URL", "https://app.example.com/".to_owned()),
    ];
    let config = authfn::Config::from_lookup(|k| {
        settings
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let app = authfn::App::new(config, h.store.clone()).unwrap();
    for endpoint in authfn::Endpoint::ALL {
        let refused = app.check_can_serve(endpoint).is_err();
        assert_eq!(refused, endpoint.uses_data_keys(), "{endpoint:?}");
    }
    assert!(authfn::Endpoint::TotpEnroll.uses_data_keys());
    assert!(authfn::Endpoint::MfaVerify.uses_data_keys());
    assert!(h.app.check_can_serve(authfn::Endpoint::TotpEnroll).is_ok());
}

mod federated {
    use super::*;

    for_each_store!(a_federated_sign_in_trusts_the_provider_unless_told_to_ask_for_the_factor_too,);

    const BINDING: &str = "__Host-authfn_federation";

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

    /// The provider's answer to a sign-in begun in a fresh browser.
    async fn come_back(h: &Harness, idp: &FakeIdp, email: &str) -> Res {
        let begun = h
            .request(
                "GET",
                "/auth/federation/idp/begin",
                vec![],
                None,
                None,
                vec![],
            )
            .await;
        let binding = begun.cookie_named(BINDING);
        let query = idp.sign_in(begun.header("location").unwrap(), Login::verified(email));
        h.request(
            "GET",
            &format!("/auth/federation/idp/callback?{query}"),
            vec![],
            None,
            Some(&binding),
            vec![],
        )
        .await
    }

    async fn a_federated_sign_in_trusts_the_provider_unless_told_to_ask_for_the_factor_too(
        h: Harness,
    ) {
        let (h, idp) = federated(h);
        let email = "fed@example.com";
        let first = come_back(&h, &idp, email).await;
        assert_eq!(first.status, StatusCode::FOUND, "{}", first.text);
        let session = first.cookie_named(SESSION);
        // A new federated account has no password: its recent sign-in confirms the owner.
        let begun = enroll(&h, &session, json!({})).await;
        assert_eq!(begun.status, StatusCode::OK, "{}", begun.text);
        let secret = TotpSecret::from_base32(begun.json["secret"].as_str().unwrap()).unwrap();
        assert_eq!(
            confirm(&h, &session, &code(&h, &secret, 0)).await.status,
            StatusCode::OK
        );
        h.wait(30);
        let trusted = come_back(&h, &idp, email).await;
        assert_eq!(trusted.status, StatusCode::FOUND);
        assert!(
            trusted.set_cookie(SESSION).is_some(),
            "the provider's sign-in is trusted"
        );

        let h = h
            .reconfigure(&[("AUTHFN_MFA_FOR_FEDERATED", "true")])
            .with_http_client(idp.clone());
        let asked = come_back(&h, &idp, email).await;
        assert_eq!(asked.status, StatusCode::FOUND, "{}", asked.text);
        assert_eq!(
            asked.header("location"),
            Some(format!("{RETURN_TO}#mfa_required").as_str())
        );
        assert!(asked.set_cookie(SESSION).is_none());
        // A sign-in begun by fetch gets sign-in's own answer.
        let begun = h
            .request(
                "GET",
                "/auth/federation/idp/begin",
                vec![],
                None,
                None,
                vec![("accept", "application/json")],
            )
            .await;
        let query = idp.sign_in(
            begun.json["authorization_url"].as_str().unwrap(),
            Login::verified(email),
        );
        let json_answer = h
            .request(
                "GET",
                &format!("/auth/federation/idp/callback?{query}"),
                vec![],
                None,
                Some(&begun.cookie_named(BINDING)),
                vec![("accept", "application/json")],
            )
            .await;
        assert_eq!(json_answer.status, StatusCode::OK, "{}", json_answer.text);
        assert_eq!(
            json_answer.json["mfa_required"], true,
            "{}",
            json_answer.text
        );
        assert_eq!(
            json_answer.json["methods"],
            json!(["totp", "recovery_code"])
        );
        assert!(json_answer.set_cookie(SESSION).is_none());
        json_answer.cookie_named(PENDING);
        // A form_post answer (the provider's cross-site POST): 303 to the app, same cookie.
        let posting = h
            .reconfigure(&[("AUTHFN_FEDERATION_IDP_RESPONSE_MODE", "form_post")])
            .with_http_client(idp.clone());
        let begun = posting
            .request(
                "GET",
                "/auth/federation/idp/begin",
                vec![],
                None,
                None,
                vec![],
            )
            .await;
        let form = idp.sign_in(begun.header("location").unwrap(), Login::verified(email));
        let posted = posting
            .request(
                "POST",
                "/auth/federation/idp/callback",
                form.into_bytes(),
                Some("application/x-www-form-urlencoded"),
                Some(&begun.cookie_named(BINDING)),
                vec![],
            )
            .await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
        assert_eq!(
            posted.header("location"),
            Some(format!("{RETURN_TO}#mfa_required").as_str())
        );
        assert!(posted.set_cookie(SESSION).is_none());
        posted.cookie_named(PENDING);
        let done = verify(
            &h,
            &asked.cookie_named(PENDING),
            "totp",
            &code(&h, &secret, 0),
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert!(done.set_cookie(SESSION).is_some());
    }
}
