//! Passkeys (WebAuthn): registration with step-up, sign-in with a passkey alone and as the
//! second factor of a password sign-in, and every check a relying party makes, each made to
//! fail by the software authenticator (`authfn_blackbox::authenticator`). Driven through
//! `App::handle` with the manual clock.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
mod support;

use authfn::store::CredentialId;
use authfn::token::SessionToken;
use authfn_blackbox::authenticator::{Algorithm, Authenticator};
use http::StatusCode;
use serde_json::{Value, json};
use support::*;

for_each_store!(
    a_registered_passkey_signs_in_alone_with_a_fresh_session,
    the_options_ask_for_a_discoverable_verified_credential_and_exclude_the_accounts_passkeys,
    registering_needs_the_owner_to_confirm,
    a_password_sign_in_waits_for_the_passkey_as_second_factor,
    a_ceremonys_challenge_serves_that_ceremony_only,
    every_failed_check_refuses_the_passkey_with_one_code,
    a_counter_that_does_not_grow_is_refused_and_leaves_the_stored_counter,
    a_challenge_answers_one_ceremony,
    a_challenge_lasts_five_minutes,
    a_credential_is_registered_once_across_all_accounts,
    another_accounts_passkey_is_no_second_factor_and_counts_as_a_failure,
    a_user_handle_that_is_not_the_owners_is_refused,
    es256_and_eddsa_passkeys_both_work,
    recovery_codes_come_only_with_the_first_factor,
    deleting_the_last_passkey_lets_the_password_alone_sign_in,
    a_passkey_is_renamed_within_the_rules,
    a_malformed_response_is_invalid_credential_and_spends_nothing,
    a_token_client_answers_the_second_factor_with_mfa_token_and_gets_a_session_token,
    five_refused_passkeys_end_the_pending_sign_in,
);

const EMAIL: &str = "ada@example.com";

fn session_cookie(res: &Res, h: &Harness) -> String {
    res.cookie_named(h.app.config().cookie.name())
}

fn pending_cookie(res: &Res, h: &Harness) -> String {
    res.cookie_named(h.app.config().cookie.pending_name())
}

/// A new account, signed in; returns its session cookie.
async fn account(h: &Harness, email: &str) -> String {
    let res = h.sign_up(email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    session_cookie(&res, h)
}

async fn register_begin(h: &Harness, cookie: &str) -> Res {
    h.post_json(
        "/auth/passkeys/register/begin",
        json!({ "current_password": PASSWORD }),
        Some(cookie),
    )
    .await
}

async fn register_finish(h: &Harness, cookie: &str, credential: Value) -> Res {
    h.post_json(
        "/auth/passkeys/register/finish",
        json!({ "credential": credential }),
        Some(cookie),
    )
    .await
}

/// Registers a new `alg` passkey for the signed-in account; returns finish's answer.
async fn register(h: &Harness, cookie: &str, auth: &mut Authenticator, alg: Algorithm) -> Res {
    let options = register_begin(h, cookie).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.text);
    let credential = auth.create(&options.json, alg);
    register_finish(h, cookie, credential).await
}

async fn sign_in_begin(h: &Harness, cookie: Option<&str>) -> Value {
    let res = h
        .post_json("/auth/passkeys/sign-in/begin", json!({}), cookie)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json
}

async fn sign_in_finish(h: &Harness, cookie: Option<&str>, credential: Value) -> Res {
    h.post_json(
        "/auth/passkeys/sign-in/finish",
        json!({ "credential": credential }),
        cookie,
    )
    .await
}

/// A discoverable sign-in with the authenticator's newest credential.
async fn passkey_sign_in(h: &Harness, auth: &mut Authenticator) -> Res {
    let options = sign_in_begin(h, None).await;
    sign_in_finish(h, None, auth.get(&options)).await
}

/// The stored session a session cookie names.
async fn stored_session(h: &Harness, cookie: &str) -> authfn::store::SessionRecord {
    let value = cookie.split_once('=').unwrap().1;
    let token = SessionToken::verify(value, &h.app.config().session_keys).unwrap();
    h.store
        .session(&token.token.hash(), authfn::Clock::now(&h.clock))
        .await
        .unwrap()
        .unwrap()
}

async fn user_id(h: &Harness, email: &str) -> authfn::token::UserId {
    let email = authfn::email::Email::parse(email).unwrap();
    h.store.user_by_email(&email).await.unwrap().unwrap().id
}

fn flip_last_byte(b64: &str) -> String {
    let mut bytes = authfn::crypto::b64url_decode(b64).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    authfn::crypto::b64url(&bytes)
}

async fn a_registered_passkey_signs_in_alone_with_a_fresh_session(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let res = register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["passkey"]["name"], "Passkey");
    assert_eq!(
        res.json["passkey"]["transports"],
        json!(["internal", "hybrid"])
    );
    assert!(res.json["passkey"].get("public_key").is_none());
    let notice = h.latest_mail(EMAIL);
    assert!(
        notice.subject.contains("passkey was added"),
        "{}",
        notice.subject
    );
    assert!(notice.text.contains("\"Passkey\""), "{}", notice.text);

    h.wait(3600);
    let signed_in = passkey_sign_in(&h, &mut auth).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let session = session_cookie(&signed_in, &h);
    let me = h.get("/auth/session", Some(&session)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let record = stored_session(&h, &session).await;
    assert_eq!(record.authenticated_at.0, h.now());
    assert_eq!(record.user_id, user_id(&h, EMAIL).await);
    let stored = h.store.passkeys_of(&record.user_id).await.unwrap();
    assert_eq!(
        (stored[0].sign_count, stored[0].last_used_at.map(|t| t.0)),
        (1, Some(h.now()))
    );
}

async fn the_options_ask_for_a_discoverable_verified_credential_and_exclude_the_accounts_passkeys(
    h: Harness,
) {
    let cookie = account(&h, EMAIL).await;
    let first = register_begin(&h, &cookie).await.json;
    let o = &first["publicKey"];
    assert_eq!(
        o["rp"],
        json!({ "id": "app.example.com", "name": "authfn" })
    );
    let uid = user_id(&h, EMAIL).await;
    assert_eq!(
        o["user"],
        json!({ "id": authfn::crypto::b64url(uid.as_str().as_bytes()), "name": EMAIL, "displayName": EMAIL })
    );
    assert_eq!(
        o["pubKeyCredParams"],
        json!([{"type":"public-key","alg":-7},{"type":"public-key","alg":-8},{"type":"public-key","alg":-257}])
    );
    assert_eq!(o["timeout"], 300_000);
    assert_eq!(o["attestation"], "none");
    assert_eq!(
        o["authenticatorSelection"],
        json!({"residentKey":"required","requireResidentKey":true,"userVerification":"required"})
    );
    assert_eq!(o["excludeCredentials"], json!([]));
    assert_eq!(
        authfn::crypto::b64url_decode(o["challenge"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let res = register_finish(&h, &cookie, auth.create(&first, Algorithm::Es256)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let second = register_begin(&h, &cookie).await.json;
    let id = authfn::crypto::b64url(&auth.credentials[0].id);
    assert_eq!(
        second["publicKey"]["excludeCredentials"],
        json!([{ "type": "public-key", "id": id, "transports": ["internal", "hybrid"] }])
    );
    let sign_in = sign_in_begin(&h, None).await;
    let o = &sign_in["publicKey"];
    assert_eq!(
        (&o["rpId"], &o["allowCredentials"], &o["userVerification"]),
        (&json!("app.example.com"), &json!([]), &json!("required"))
    );
}

async fn registering_needs_the_owner_to_confirm(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    h.wait(600);
    let none = h
        .post_json("/auth/passkeys/register/begin", json!({}), Some(&cookie))
        .await;
    assert_eq!(
        none.error(),
        (401, "reauthentication_required"),
        "{}",
        none.text
    );
    let wrong = h
        .post_json(
            "/auth/passkeys/register/begin",
            json!({ "current_password": "not the password at all" }),
            Some(&cookie),
        )
        .await;
    assert_eq!(wrong.error(), (401, "invalid_credentials"));
    let anonymous = h
        .post_json(
            "/auth/passkeys/register/begin",
            json!({ "current_password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(anonymous.error(), (401, "unauthenticated"));
    // A challenge begun by one account registers nothing for another.
    let options = register_begin(&h, &cookie).await.json;
    let other = account(&h, "bob@example.com").await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let res = register_finish(&h, &other, auth.create(&options, Algorithm::Es256)).await;
    assert_eq!(res.error(), (400, "challenge_expired"));
    assert_eq!(
        h.store
            .passkeys_of(&user_id(&h, "bob@example.com").await)
            .await
            .unwrap()
            .len(),
        0
    );
}

async fn a_password_sign_in_waits_for_the_passkey_as_second_factor(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    assert_eq!(
        register(&h, &cookie, &mut auth, Algorithm::Es256)
            .await
            .status,
        StatusCode::CREATED
    );
    h.wait(60);
    let first = h.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json["mfa_required"], true);
    assert!(
        first.json["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("passkey"))
    );
    let pending = pending_cookie(&first, &h);
    let options = sign_in_begin(&h, Some(&pending)).await;
    let id = authfn::crypto::b64url(&auth.credentials[0].id);
    assert_eq!(
        options["publicKey"]["allowCredentials"],
        json!([{ "type": "public-key", "id": id, "transports": ["internal", "hybrid"] }])
    );
    let done = sign_in_finish(&h, Some(&pending), auth.get(&options)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let session = session_cookie(&done, &h);
    assert_eq!(
        stored_session(&h, &session).await.authenticated_at.0,
        h.now()
    );
    let cleared = done
        .set_cookie(h.app.config().cookie.pending_name())
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The pending sign-in is spent: its challenge cannot be had again.
    let again = h
        .post_json("/auth/passkeys/sign-in/begin", json!({}), Some(&pending))
        .await;
    assert_eq!(again.json["publicKey"]["allowCredentials"], json!([]));
}

async fn a_ceremonys_challenge_serves_that_ceremony_only(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let pending = pending_cookie(&h.sign_in(EMAIL, PASSWORD).await, &h);
    // A second-factor challenge, answered without the pending sign-in it is bound to.
    let bound = sign_in_begin(&h, Some(&pending)).await;
    let res = sign_in_finish(&h, None, auth.get(&bound)).await;
    assert_eq!(res.error(), (401, "mfa_expired"));
    // ...or by another client's pending sign-in.
    let other_pending = pending_cookie(&h.sign_in(EMAIL, PASSWORD).await, &h);
    let bound = sign_in_begin(&h, Some(&pending)).await;
    let res = sign_in_finish(&h, Some(&other_pending), auth.get(&bound)).await;
    assert_eq!(res.error(), (401, "mfa_expired"));
    // A registration challenge signs nobody in, and a sign-in challenge registers nothing.
    let registration = register_begin(&h, &cookie).await.json;
    let as_sign_in = json!({ "publicKey": {
        "challenge": registration["publicKey"]["challenge"], "rpId": "app.example.com", "allowCredentials": []
    }});
    let res = sign_in_finish(&h, None, auth.get(&as_sign_in)).await;
    assert_eq!(res.error(), (400, "challenge_expired"));
    let sign_in = sign_in_begin(&h, None).await;
    let mut as_registration = register_begin(&h, &cookie).await.json;
    as_registration["publicKey"]["challenge"] = sign_in["publicKey"]["challenge"].clone();
    let res = register_finish(&h, &cookie, auth.create(&as_registration, Algorithm::Es256)).await;
    assert_eq!(res.error(), (400, "challenge_expired"));
    // The pending sign-in still finishes with its own challenge.
    let bound = sign_in_begin(&h, Some(&pending)).await;
    let res = sign_in_finish(&h, Some(&pending), auth.get(&bound)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

async fn every_failed_check_refuses_the_passkey_with_one_code(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    type Tamper = fn(&mut Authenticator);
    let cases: [(&str, Tamper); 6] = [
        ("untrusted origin", |a| {
            a.origin = "https://evil.example.com".into()
        }),
        ("lookalike origin", |a| {
            a.origin = "https://app.example.com.evil".into()
        }),
        ("other RP ID", |a| {
            a.rp_id_hash_of = Some("example.com".into())
        }),
        ("no user verification", |a| a.user_verified = false),
        ("no user presence", |a| a.user_present = false),
        ("backed up without eligibility", |a| a.backed_up = true),
    ];
    for (what, tamper) in cases {
        let mut bad = Authenticator::new(TRUSTED_ORIGIN);
        bad.credentials = std::mem::take(&mut auth.credentials);
        tamper(&mut bad);
        let options = sign_in_begin(&h, None).await;
        let res = sign_in_finish(&h, None, bad.get(&options)).await;
        assert_eq!(
            res.error(),
            (401, "passkey_rejected"),
            "{what}: {}",
            res.text
        );
        assert!(res.set_cookie(h.app.config().cookie.name()).is_none());
        auth.credentials = bad.credentials;
    }
    let options = sign_in_begin(&h, None).await;
    let mut response = auth.get(&options);
    let sig = response["response"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    response["response"]["signature"] = json!(flip_last_byte(&sig));
    let res = sign_in_finish(&h, None, response).await;
    assert_eq!(res.error(), (401, "passkey_rejected"), "bad signature");
    // Registration refuses the same way: no user verification, another RP ID.
    for tamper in [
        (|a: &mut Authenticator| a.user_verified = false) as Tamper,
        |a| a.rp_id_hash_of = Some("evil.com".into()),
        |a| a.origin = "https://evil.example.com".into(),
    ] {
        let mut bad = Authenticator::new(TRUSTED_ORIGIN);
        tamper(&mut bad);
        let res = register(&h, &cookie, &mut bad, Algorithm::Es256).await;
        assert_eq!(res.error(), (401, "passkey_rejected"), "{}", res.text);
    }
    let uid = user_id(&h, EMAIL).await;
    assert_eq!(h.store.passkeys_of(&uid).await.unwrap().len(), 1);
    // After all that, the good passkey still signs in.
    let res = passkey_sign_in(&h, &mut auth).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

async fn a_counter_that_does_not_grow_is_refused_and_leaves_the_stored_counter(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    auth.counter_step = 5;
    assert_eq!(passkey_sign_in(&h, &mut auth).await.status, StatusCode::OK);
    // A clone of the authenticator as it was: its next count (5) is not above the stored 5.
    auth.credentials[0].counter = 0;
    let res = passkey_sign_in(&h, &mut auth).await;
    assert_eq!(res.error(), (401, "passkey_rejected"), "{}", res.text);
    let uid = user_id(&h, EMAIL).await;
    assert_eq!(h.store.passkeys_of(&uid).await.unwrap()[0].sign_count, 5);
    auth.counter_step = 1;
    auth.credentials[0].counter = 3;
    assert_eq!(
        passkey_sign_in(&h, &mut auth).await.error(),
        (401, "passkey_rejected"),
        "4 is below 5 too"
    );
    auth.credentials[0].counter = 5;
    assert_eq!(passkey_sign_in(&h, &mut auth).await.status, StatusCode::OK);
    // An authenticator without a counter (always 0) is fine while both stay 0.
    let mut counterless = Authenticator::new(TRUSTED_ORIGIN);
    counterless.counter_step = 0;
    let bob = account(&h, "bob@example.com").await;
    register(&h, &bob, &mut counterless, Algorithm::EdDsa).await;
    for _ in 0..2 {
        let res = passkey_sign_in(&h, &mut counterless).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
}

async fn a_challenge_answers_one_ceremony(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let options = sign_in_begin(&h, None).await;
    let response = auth.get(&options);
    let first = sign_in_finish(&h, None, response.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let replay = sign_in_finish(&h, None, response).await;
    assert_eq!(replay.error(), (400, "challenge_expired"));
    // A fresh assertion over a used challenge (a higher counter) is no better.
    let again = sign_in_finish(&h, None, auth.get(&options)).await;
    assert_eq!(again.error(), (400, "challenge_expired"));
    // A refused answer spends its challenge too.
    let options = sign_in_begin(&h, None).await;
    auth.user_verified = false;
    let refused = sign_in_finish(&h, None, auth.get(&options)).await;
    assert_eq!(refused.error(), (401, "passkey_rejected"));
    auth.user_verified = true;
    let retry = sign_in_finish(&h, None, auth.get(&options)).await;
    assert_eq!(retry.error(), (400, "challenge_expired"));
    // So does a registration's.
    let options = register_begin(&h, &cookie).await.json;
    let mut other = Authenticator::new(TRUSTED_ORIGIN);
    let response = other.create(&options, Algorithm::Es256);
    assert_eq!(
        register_finish(&h, &cookie, response.clone()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        register_finish(&h, &cookie, response).await.error(),
        (400, "challenge_expired")
    );
}

async fn a_challenge_lasts_five_minutes(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let options = register_begin(&h, &cookie).await.json;
    h.wait(300);
    let late = register_finish(&h, &cookie, auth.create(&options, Algorithm::Es256)).await;
    assert_eq!(late.error(), (400, "challenge_expired"));
    let options = register_begin(&h, &cookie).await.json;
    h.wait(299);
    let in_time = register_finish(&h, &cookie, auth.create(&options, Algorithm::Es256)).await;
    assert_eq!(in_time.status, StatusCode::CREATED, "{}", in_time.text);
    let options = sign_in_begin(&h, None).await;
    h.wait(300);
    assert_eq!(
        sign_in_finish(&h, None, auth.get(&options)).await.error(),
        (400, "challenge_expired")
    );
    let options = sign_in_begin(&h, None).await;
    h.wait(299);
    assert_eq!(
        sign_in_finish(&h, None, auth.get(&options)).await.status,
        StatusCode::OK
    );
}

async fn a_credential_is_registered_once_across_all_accounts(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let mails = h.mails_to(EMAIL).len();
    let options = register_begin(&h, &cookie).await.json;
    let twice = register_finish(&h, &cookie, auth.attest(&options, 0)).await;
    assert_eq!(twice.error(), (409, "passkey_exists"));
    assert_eq!(
        h.mails_to(EMAIL).len(),
        mails,
        "no notice for nothing added"
    );
    let bob = account(&h, "bob@example.com").await;
    let options = register_begin(&h, &bob).await.json;
    let stolen = register_finish(&h, &bob, auth.attest(&options, 0)).await;
    assert_eq!(stolen.error(), (409, "passkey_exists"));
    let owner = h
        .store
        .passkey_by_credential(&CredentialId::new(auth.credentials[0].id.clone()).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user_id;
    assert_eq!(owner, user_id(&h, EMAIL).await);
}

async fn another_accounts_passkey_is_no_second_factor_and_counts_as_a_failure(h: Harness) {
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let ada = account(&h, EMAIL).await;
    register(&h, &ada, &mut auth, Algorithm::Es256).await;
    let bob = account(&h, "bob@example.com").await;
    register(&h, &bob, &mut auth, Algorithm::Es256).await;
    let pending = pending_cookie(&h.sign_in("bob@example.com", PASSWORD).await, &h);
    let pending_hash = {
        let value = pending.split_once('=').unwrap().1;
        authfn::token::PendingToken::verify(value, &h.app.config().session_keys)
            .unwrap()
            .hash()
    };
    let options = sign_in_begin(&h, Some(&pending)).await;
    let res = sign_in_finish(&h, Some(&pending), auth.get_with(&options, 0)).await;
    assert_eq!(res.error(), (401, "passkey_rejected"), "{}", res.text);
    let record = h
        .store
        .pending_sign_in(&pending_hash, authfn::Clock::now(&h.clock))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.failures, 1);
    // Bob's own passkey finishes Bob's sign-in as Bob.
    let options = sign_in_begin(&h, Some(&pending)).await;
    let res = sign_in_finish(&h, Some(&pending), auth.get_with(&options, 1)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let session = stored_session(&h, &session_cookie(&res, &h)).await;
    assert_eq!(session.user_id, user_id(&h, "bob@example.com").await);
}

async fn a_user_handle_that_is_not_the_owners_is_refused(h: Harness) {
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let ada = account(&h, EMAIL).await;
    register(&h, &ada, &mut auth, Algorithm::Es256).await;
    let bob = user_id(&h, &{
        account(&h, "bob@example.com").await;
        "bob@example.com".to_owned()
    })
    .await;
    auth.credentials[0].user_handle = bob.as_str().as_bytes().to_vec();
    let res = passkey_sign_in(&h, &mut auth).await;
    assert_eq!(res.error(), (401, "passkey_rejected"), "{}", res.text);
    let options = sign_in_begin(&h, None).await;
    let mut response = auth.get(&options);
    response["response"]
        .as_object_mut()
        .unwrap()
        .remove("userHandle");
    let res = sign_in_finish(&h, None, response).await;
    assert_eq!(
        res.error(),
        (401, "passkey_rejected"),
        "a discoverable sign-in needs the handle"
    );
}

async fn es256_and_eddsa_passkeys_both_work(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut ec = Authenticator::new(TRUSTED_ORIGIN);
    let mut ed = Authenticator::new(TRUSTED_ORIGIN);
    assert_eq!(
        register(&h, &cookie, &mut ed, Algorithm::EdDsa)
            .await
            .status,
        StatusCode::CREATED
    );
    // A second passkey, right after signing in with the first.
    let fresh = passkey_sign_in(&h, &mut ed).await;
    let fresh = session_cookie(&fresh, &h);
    let res = register(&h, &fresh, &mut ec, Algorithm::Es256).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    for auth in [&mut ec, &mut ed] {
        let res = passkey_sign_in(&h, auth).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
}

async fn recovery_codes_come_only_with_the_first_factor(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let first = register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let codes = first.json["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| authfn::recovery::RecoveryCode::normalise(c.as_str().unwrap()).is_some())
    );
    let uid = user_id(&h, EMAIL).await;
    let stored = h.store.recovery_codes(&uid).await.unwrap().unwrap();
    assert_eq!(stored.code_hashes.len(), 10);
    let fresh = session_cookie(&passkey_sign_in(&h, &mut auth).await, &h);
    let second = register(&h, &fresh, &mut auth, Algorithm::EdDsa).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert!(
        second.json.get("recovery_codes").is_none(),
        "{}",
        second.text
    );
    assert_eq!(
        h.store.recovery_codes(&uid).await.unwrap().unwrap(),
        stored,
        "the first set stands"
    );
}

async fn deleting_the_last_passkey_lets_the_password_alone_sign_in(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let registered = register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let id = registered.json["passkey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(h.sign_in(EMAIL, PASSWORD).await.json["mfa_required"], true);
    let fresh = session_cookie(&passkey_sign_in(&h, &mut auth).await, &h);
    let unknown = h
        .post_json(
            "/auth/passkeys/delete",
            json!({ "id": "nope", "current_password": PASSWORD }),
            Some(&fresh),
        )
        .await;
    assert_eq!(unknown.error(), (404, "not_found"));
    let deleted = h
        .post_json(
            "/auth/passkeys/delete",
            json!({ "id": id, "current_password": PASSWORD }),
            Some(&fresh),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.json, json!({ "status": "deleted" }));
    assert!(h.latest_mail(EMAIL).subject.contains("passkey was removed"));
    let uid = user_id(&h, EMAIL).await;
    assert_eq!(h.store.recovery_codes(&uid).await.unwrap(), None);
    let res = h.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json.get("mfa_required").is_none(), "{}", res.text);
    session_cookie(&res, &h);
    // The deleted passkey signs in no more.
    assert_eq!(
        passkey_sign_in(&h, &mut auth).await.error(),
        (401, "passkey_rejected")
    );
}

async fn a_passkey_is_renamed_within_the_rules(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let id = register(&h, &cookie, &mut auth, Algorithm::Es256)
        .await
        .json["passkey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rename = |name: Value, id: &str| {
        let body = json!({ "id": id, "name": name });
        let cookie = cookie.clone();
        let h = &h;
        async move {
            h.post_json("/auth/passkeys/rename", body, Some(&cookie))
                .await
        }
    };
    let res = rename(json!("  Ada's YubiKey <5> "), &id).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["passkey"]["name"], "Ada's YubiKey <5>");
    assert_eq!(res.json["passkey"]["id"], id.as_str());
    assert_eq!(
        rename(json!("é".repeat(64)), &id).await.status,
        StatusCode::OK
    );
    for bad in [json!("   "), json!("x".repeat(65)), json!("tab\there")] {
        assert_eq!(
            rename(bad.clone(), &id).await.error(),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    assert_eq!(
        rename(json!("Key"), "nope").await.error(),
        (404, "not_found")
    );
    let bob = account(&h, "bob@example.com").await;
    let theirs = h
        .post_json(
            "/auth/passkeys/rename",
            json!({ "id": id, "name": "mine" }),
            Some(&bob),
        )
        .await;
    assert_eq!(
        theirs.error(),
        (404, "not_found"),
        "another account's passkey"
    );
    let uid = user_id(&h, EMAIL).await;
    assert_eq!(
        h.store.passkeys_of(&uid).await.unwrap()[0].name,
        "é".repeat(64)
    );
}

async fn a_malformed_response_is_invalid_credential_and_spends_nothing(h: Harness) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let options = sign_in_begin(&h, None).await;
    let good = auth.get(&options);
    let mut bad_cbor = good.clone();
    bad_cbor["response"]["authenticatorData"] = json!("AAAA");
    let mut bad_b64 = good.clone();
    bad_b64["response"]["signature"] = json!("not base64url!");
    let mut ids_differ = good.clone();
    ids_differ["id"] = json!("AAAA");
    for bad in [
        json!("junk"),
        json!({ "id": "x" }),
        bad_cbor,
        bad_b64,
        ids_differ,
    ] {
        let res = sign_in_finish(&h, None, bad.clone()).await;
        assert_eq!(res.error(), (400, "invalid_credential"), "{bad}");
    }
    // Nothing was taken: the good answer still signs in.
    let res = sign_in_finish(&h, None, good).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

/// A JSON POST as a non-browser client sends it: no Origin, no cookie.
async fn post_as_app(h: &Harness, path: &str, body: Value) -> Res {
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

async fn a_token_client_answers_the_second_factor_with_mfa_token_and_gets_a_session_token(
    h: Harness,
) {
    let cookie = account(&h, EMAIL).await;
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    register(&h, &cookie, &mut auth, Algorithm::Es256).await;
    let first = post_as_app(
        &h,
        "/auth/sign-in",
        json!({ "email": EMAIL, "password": PASSWORD, "session_delivery": "token" }),
    )
    .await;
    let mfa_token = first.json["mfa_token"].as_str().unwrap().to_owned();
    let options = post_as_app(
        &h,
        "/auth/passkeys/sign-in/begin",
        json!({ "mfa_token": mfa_token }),
    )
    .await;
    assert_eq!(
        options.json["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let credential = auth.get(&options.json);
    let done = post_as_app(
        &h,
        "/auth/passkeys/sign-in/finish",
        json!({ "credential": credential, "mfa_token": mfa_token, "session_delivery": "token" }),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let token = done.json["session_token"].as_str().unwrap();
    let me = h.get_with_bearer("/auth/session", token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    // A browser is never handed the token.
    let options = sign_in_begin(&h, None).await;
    let res = h
        .post_json(
            "/auth/passkeys/sign-in/finish",
            json!({ "credential": auth.get(&options), "session_delivery": "token" }),
            None,
        )
        .await;
    assert_eq!(res.error(), (400, "token_delivery_refused"));
}

async fn five_refused_passkeys_end_the_pending_sign_in(h: Harness) {
    let mut auth = Authenticator::new(TRUSTED_ORIGIN);
    let ada = account(&h, EMAIL).await;
    register(&h, &ada, &mut auth, Algorithm::Es256).await;
    let bob = account(&h, "bob@example.com").await;
    register(&h, &bob, &mut auth, Algorithm::Es256).await;
    let pending = pending_cookie(&h.sign_in("bob@example.com", PASSWORD).await, &h);
    for _ in 0..5 {
        let options = sign_in_begin(&h, Some(&pending)).await;
        let res = sign_in_finish(&h, Some(&pending), auth.get_with(&options, 0)).await;
        assert_eq!(res.error(), (401, "passkey_rejected"));
    }
    // The pending sign-in is gone: Bob's own passkey no longer finishes it.
    let options = sign_in_begin(&h, Some(&pending)).await;
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    let stale = json!({ "publicKey": {
        "challenge": options["publicKey"]["challenge"], "rpId": "app.example.com",
        "allowCredentials": [{ "type": "public-key", "id": authfn::crypto::b64url(&auth.credentials[1].id) }]
    }});
    // (A discoverable challenge now: Bob's passkey signs Bob in on its own, as any UV passkey.)
    let res = sign_in_finish(&h, Some(&pending), auth.get(&stale)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

/// Like every other signed-in change, and before anything is read: a stolen session cannot
/// grind the step-up's password check or the store from one address.
#[tokio::test]
async fn registering_renaming_and_deleting_passkeys_have_a_per_ip_budget() {
    let h = Harness::memory(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let cookie = account(&h, EMAIL).await;
    let body = json!({ "id": "no-such-passkey", "name": "Laptop", "credential": {} })
        .to_string()
        .into_bytes();
    for path in [
        "/auth/passkeys/register/begin",
        "/auth/passkeys/register/finish",
        "/auth/passkeys/rename",
        "/auth/passkeys/delete",
    ] {
        let from = |ip: &'static str| {
            h.request_from(
                ip,
                "POST",
                path,
                body.clone(),
                Some(JSON),
                Some(&cookie),
                vec![("origin", TRUSTED_ORIGIN)],
            )
        };
        for _ in 0..2 {
            let res = from("192.0.2.70").await;
            assert_ne!(
                res.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{path}: {}",
                res.text
            );
        }
        let limited = from("192.0.2.70").await;
        assert_eq!(
            (limited.status, limited.json["error"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
            "{path}: {}",
            limited.text
        );
        assert!(limited.header("retry-after").is_some(), "{path}");
        let elsewhere = from("192.0.2.71").await;
        assert_ne!(
            elsewhere.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}: each address has its own budget"
        );
    }
}
