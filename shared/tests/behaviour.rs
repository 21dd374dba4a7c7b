//! The behaviour suite: every rule of the session endpoints, driven through `App::handle`
//! exactly as a runtime adapter would, with a clock the tests control.
//!
//! Written once and run over each store: the in-memory one always, and DynamoDB's real API
//! (a local moto server) when `tests/run.sh` provides one.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use support::*;

for_each_store!(
    sign_up_creates_a_user_and_a_cookie_session,
    a_sign_up_for_a_taken_email_in_any_spelling_changes_nothing,
    look_alike_spellings_of_an_email_are_one_account,
    an_email_with_invisible_or_direction_characters_is_refused,
    concurrent_sign_ups_with_one_email_make_one_account,
    bad_sign_up_input_is_a_clear_4xx_and_writes_nothing,
    sign_in_rotates_the_session,
    wrong_password_and_unknown_user_look_the_same,
    repeated_failures_lock_the_address,
    a_successful_sign_in_resets_the_failure_count,
    sign_in_and_sign_up_hand_out_a_signed_device_cookie,
    a_browser_that_signed_in_before_keeps_signing_in_while_the_address_is_locked,
    a_trusted_device_that_guesses_is_locked_alone,
    device_cookies_for_another_account_or_forged_ones_share_the_lock,
    token_clients_present_their_device_token_in_the_body,
    verifying_an_address_ends_the_session_it_arrived_with,
    sign_out_ends_the_session_and_clears_the_cookie,
    sign_out_everywhere_ends_every_session,
    idle_sessions_expire,
    activity_slides_the_idle_deadline_with_few_writes,
    the_absolute_lifetime_caps_an_active_session,
    cross_site_state_changes_are_refused,
    cors_admits_only_trusted_origins,
    non_browser_clients_get_a_bearer_token,
    protected_routes_need_a_session,
    tampered_and_unknown_cookies_are_unauthenticated,
    cookies_signed_before_the_user_id_rode_along_still_work,
);

async fn sign_up_creates_a_user_and_a_cookie_session(h: Harness) {
    let res = h.sign_up("  Ada@Example.COM ", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let set_cookie = res.header("set-cookie").expect("a session cookie");
    assert!(
        set_cookie.starts_with("__Host-authfn_session=v2."),
        "{set_cookie}"
    );
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(
            set_cookie.contains(attr),
            "{attr} missing from {set_cookie}"
        );
    }
    assert!(
        !set_cookie.contains("Domain"),
        "a __Host- cookie has no Domain"
    );
    let cookie = res.cookie();
    let token = cookie.split_once('=').unwrap().1;
    assert!(
        !res.text.contains(token),
        "the token must never be in a browser's response body"
    );
    assert!(res.json["user_id"].is_string() && res.json["session_id"].is_string());
    assert_eq!(res.header("cache-control"), Some("no-store"));

    let me = h.get("/auth/session", Some(&cookie)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["user"]["email"], "ada@example.com");
    assert_eq!(me.json["user"]["id"], res.json["user_id"]);
    assert_eq!(me.json["session"]["id"], res.json["session_id"]);
    assert_eq!(me.json["session"]["expires_at"], h.now() + 12 * 3600);
    assert_eq!(me.json["session"]["idle_expires_at"], h.now() + 30 * 60);
}

async fn a_sign_up_for_a_taken_email_in_any_spelling_changes_nothing(h: Harness) {
    assert_eq!(
        h.sign_up("grace@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    let again = h
        .sign_up_request("GRACE@example.com", "another password")
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert!(again.header("set-cookie").is_none());
    let notice = h.latest_mail("grace@example.com");
    assert!(
        notice.subject.contains("Your authfn account") && !notice.text.contains("token="),
        "{}",
        notice.text
    );
    // The original account is untouched.
    assert_eq!(
        h.sign_in("grace@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.sign_in("grace@example.com", "another password")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

async fn look_alike_spellings_of_an_email_are_one_account(h: Harness) {
    assert_eq!(
        h.sign_up("jos\u{E9}@b\u{FC}cher.example", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    // A decomposed é, fullwidth letters, the domain in IDNA's ASCII form: the same address.
    for spelling in [
        "jose\u{301}@b\u{FC}cher.example",
        "ｊｏｓé@BÜCHER.example",
        "jos\u{E9}@xn--bcher-kva.example",
    ] {
        let again = h.sign_up_request(spelling, "another password").await;
        assert_eq!(again.status, StatusCode::ACCEPTED, "{spelling}");
        let notice = h.latest_mail("jos\u{E9}@b\u{FC}cher.example");
        assert!(
            notice.subject.contains("Your authfn account"),
            "{spelling}: the owner is told, no second account is pending"
        );
        assert_eq!(
            h.sign_in(spelling, PASSWORD).await.status,
            StatusCode::OK,
            "{spelling} signs in to the one account"
        );
    }
}

async fn an_email_with_invisible_or_direction_characters_is_refused(h: Harness) {
    assert_eq!(
        h.sign_up("grace@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    for spelling in [
        "gr\u{200B}ace@example.com",
        "grace\u{200D}@example.com",
        "grace@exam\u{AD}ple.com",
        "\u{202E}ecarg@example.com",
    ] {
        let res = h.sign_up(spelling, PASSWORD).await;
        assert_eq!(
            (res.status, res.json["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{spelling:?}"
        );
        assert!(
            res.json["message"].as_str().unwrap().contains("invisible"),
            "{}",
            res.text
        );
    }
}

async fn concurrent_sign_ups_with_one_email_make_one_account(h: Harness) {
    let h = std::sync::Arc::new(h);
    // Five: as many mails as one address may be sent in an hour.
    let attempts: Vec<_> = (0..5)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                h.sign_up_request("race@example.com", &format!("password number {i}"))
                    .await
            })
        })
        .collect();
    for a in attempts {
        assert_eq!(a.await.unwrap().status, StatusCode::ACCEPTED);
    }
    // Every mail's link, followed at once: one account, made by the one live sign-up.
    let verifications: Vec<_> = h
        .mails_to("race@example.com")
        .iter()
        .map(|mail| {
            let (h, token) = (h.clone(), mail_token(mail));
            tokio::spawn(async move {
                h.post_json("/auth/verify-email", json!({ "token": token }), None)
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for v in verifications {
        statuses.push(v.await.unwrap());
    }
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((won, lost), (1, 4), "{statuses:?}");
}

async fn bad_sign_up_input_is_a_clear_4xx_and_writes_nothing(h: Harness) {
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            b"{not json".to_vec(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (b"".to_vec(), JSON, StatusCode::BAD_REQUEST, "invalid_json"),
        (
            br#"{"email":"a@b.c"}"#.to_vec(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            br#"{"email":1,"password":"longenough"}"#.to_vec(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            br#"{"email":"no-at-sign","password":"longenough"}"#.to_vec(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            br#"{"email":"a@b.c","password":"short"}"#.to_vec(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"email":"a@b.c","password":"x".repeat(1025)})
                .to_string()
                .into_bytes(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            b"{\"email\":\"a@b.c\",\"password\":\"\xff\xfe longenough\"}".to_vec(),
            JSON,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            br#"{"email":"a@b.c","password":"longenough"}"#.to_vec(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            vec![b' '; 17 * 1024],
            JSON,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, content_type, status, code) in cases {
        let res = h
            .post_raw("/auth/sign-up", body.clone(), content_type, None)
            .await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        assert_eq!(res.status, status, "{shown}: {}", res.text);
        assert_eq!(res.json["error"], code, "{shown}");
        assert!(
            res.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{shown}"
        );
        assert!(res.header("set-cookie").is_none());
    }
    let missing = h
        .post_raw(
            "/auth/sign-up",
            br#"{"email":"a@b.c"}"#.to_vec(),
            JSON,
            None,
        )
        .await;
    assert!(
        missing.json["message"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{}",
        missing.text
    );
    // None of that mailed anything or created the account.
    assert!(h.outbox.messages().is_empty());
    assert_eq!(h.sign_up("a@b.c", PASSWORD).await.status, StatusCode::OK);
}

async fn sign_in_rotates_the_session(h: Harness) {
    let first = h.sign_up("lin@example.com", PASSWORD).await.cookie();
    let res = h
        .post_json(
            "/auth/sign-in",
            json!({"email":"lin@example.com","password":PASSWORD}),
            Some(&first),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let second = res.cookie();
    assert_ne!(
        first, second,
        "a sign-in must never keep the session it arrived with"
    );
    assert_eq!(
        h.get("/auth/session", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/auth/session", Some(&second)).await.status,
        StatusCode::OK
    );
}

async fn wrong_password_and_unknown_user_look_the_same(h: Harness) {
    h.sign_up("known@example.com", PASSWORD).await;
    let wrong = h.sign_in("known@example.com", "not the password").await;
    let unknown = h.sign_in("nobody@example.com", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json["error"], "invalid_credentials");
    assert_eq!((unknown.status, &unknown.text), (wrong.status, &wrong.text));
}

async fn repeated_failures_lock_the_address(h: Harness) {
    h.sign_up("mallory-target@example.com", PASSWORD).await;
    for _ in 0..4 {
        assert_eq!(
            h.sign_in("mallory-target@example.com", "guess guess")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let fifth = h.sign_in("mallory-target@example.com", "guess guess").await;
    assert_eq!(fifth.status, StatusCode::LOCKED, "{}", fifth.text);
    assert_eq!(fifth.json["error"], "account_locked");
    assert_eq!(fifth.header("retry-after"), Some("900"));
    // Even the right password waits out the lock.
    let right = h.sign_in("mallory-target@example.com", PASSWORD).await;
    assert_eq!(right.status, StatusCode::LOCKED);
    h.clock.advance(Duration::from_secs(899));
    assert_eq!(
        h.sign_in("mallory-target@example.com", PASSWORD)
            .await
            .status,
        StatusCode::LOCKED
    );
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(
        h.sign_in("mallory-target@example.com", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    // An address with no account locks the same way, so a lock reveals nothing.
    for _ in 0..5 {
        h.sign_in("ghost@example.com", "guess guess").await;
    }
    assert_eq!(
        h.sign_in("ghost@example.com", "guess guess").await.status,
        StatusCode::LOCKED
    );
}

async fn a_successful_sign_in_resets_the_failure_count(h: Harness) {
    h.sign_up("reset@example.com", PASSWORD).await;
    for _ in 0..4 {
        h.sign_in("reset@example.com", "wrong wrong").await;
    }
    assert_eq!(
        h.sign_in("reset@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_eq!(
            h.sign_in("reset@example.com", "wrong wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

const DEVICE_COOKIE: &str = "__Host-authfn_device";

/// Five wrong passwords from clients without a device cookie: the address is then locked
/// for every such client.
async fn lock_for_strangers(h: &Harness, email: &str) {
    lock_for_strangers_after(h, email, 0).await;
}

/// As [`lock_for_strangers`], when `counted` attempts are already on the address's budget in
/// this window (a clean sign-in leaves its own attempt counted: clearing it would cost a
/// write on every sign-in).
async fn lock_for_strangers_after(h: &Harness, email: &str, counted: usize) {
    for _ in 0..4 - counted {
        assert_eq!(
            h.sign_in(email, "guess guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        h.sign_in(email, "guess guess").await.status,
        StatusCode::LOCKED
    );
}

async fn sign_in_and_sign_up_hand_out_a_signed_device_cookie(h: Harness) {
    let up = h.sign_up("devices@example.com", PASSWORD).await;
    let at_sign_in = h.sign_in("devices@example.com", PASSWORD).await;
    for res in [&up, &at_sign_in] {
        let set = res
            .set_cookie(DEVICE_COOKIE)
            .unwrap_or_else(|| panic!("no device cookie: {:?}", res.text));
        for attr in [
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=15552000",
        ] {
            assert!(set.contains(attr), "{attr} missing from {set}");
        }
        assert!(
            !set.contains("Domain") && !set.to_lowercase().contains("devices"),
            "{set}"
        );
        assert!(
            res.json.get("device_token").is_none(),
            "browsers get it as a cookie only: {}",
            res.text
        );
    }
    // Each sign-in names a new device, and the session cookie is still the one a browser uses.
    assert_ne!(
        up.cookie_named(DEVICE_COOKIE),
        at_sign_in.cookie_named(DEVICE_COOKIE)
    );
    assert_eq!(
        h.get("/auth/session", Some(&at_sign_in.cookie()))
            .await
            .status,
        StatusCode::OK
    );
    // Failures hand out nothing.
    let failed = h.sign_in("devices@example.com", "guess guess").await;
    assert!(failed.header("set-cookie").is_none());
}

async fn a_browser_that_signed_in_before_keeps_signing_in_while_the_address_is_locked(h: Harness) {
    let device = h
        .sign_up("owner@example.com", PASSWORD)
        .await
        .cookie_named(DEVICE_COOKIE);
    lock_for_strangers(&h, "owner@example.com").await;
    assert_eq!(
        h.sign_in("owner@example.com", PASSWORD).await.status,
        StatusCode::LOCKED
    );
    let owner = h
        .sign_in_with_cookies("owner@example.com", PASSWORD, &device)
        .await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text);
    // The owner's sign-in does not lift the lock for strangers.
    let stranger = h.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(stranger.status, StatusCode::LOCKED);
    assert_eq!(stranger.header("retry-after"), Some("900"));
    // A device cookie sent with the session cookie, as a browser sends both, works too.
    let both = format!("{}; {}", owner.cookie(), owner.cookie_named(DEVICE_COOKIE));
    assert_eq!(
        h.sign_in_with_cookies("owner@example.com", PASSWORD, &both)
            .await
            .status,
        StatusCode::OK
    );
}

async fn a_trusted_device_that_guesses_is_locked_alone(h: Harness) {
    let device = h
        .sign_up("shared@example.com", PASSWORD)
        .await
        .cookie_named(DEVICE_COOKIE);
    for _ in 0..4 {
        let res = h
            .sign_in_with_cookies("shared@example.com", "guess guess", &device)
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let fifth = h
        .sign_in_with_cookies("shared@example.com", "guess guess", &device)
        .await;
    assert_eq!(fifth.status, StatusCode::LOCKED);
    assert_eq!(fifth.header("retry-after"), Some("900"));
    let right = h
        .sign_in_with_cookies("shared@example.com", PASSWORD, &device)
        .await;
    assert_eq!(
        right.status,
        StatusCode::LOCKED,
        "the device's own lock holds for the right password too"
    );
    // Everyone else is unaffected, and a sign-in elsewhere does not unlock that device.
    assert_eq!(
        h.sign_in("shared@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.sign_in_with_cookies("shared@example.com", PASSWORD, &device)
            .await
            .status,
        StatusCode::LOCKED
    );
    h.clock.advance(Duration::from_secs(900));
    assert_eq!(
        h.sign_in_with_cookies("shared@example.com", PASSWORD, &device)
            .await
            .status,
        StatusCode::OK
    );
}

async fn device_cookies_for_another_account_or_forged_ones_share_the_lock(h: Harness) {
    let other = h
        .sign_up("other@example.com", PASSWORD)
        .await
        .cookie_named(DEVICE_COOKIE);
    let mine = h
        .sign_up("victim@example.com", PASSWORD)
        .await
        .cookie_named(DEVICE_COOKIE);
    lock_for_strangers(&h, "victim@example.com").await;
    let (name, value) = mine.split_once('=').unwrap();
    // One character changed in the signed part (the nonce), as a forger would try.
    let mut forged: Vec<char> = value.chars().collect();
    let i = value.find('.').unwrap() + 25;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged = format!("{name}={}", forged.into_iter().collect::<String>());
    for cookie in [
        other.as_str(),
        forged.as_str(),
        "__Host-authfn_device=d1.x.y.z.w",
    ] {
        let res = h
            .sign_in_with_cookies("victim@example.com", PASSWORD, cookie)
            .await;
        assert_eq!(res.status, StatusCode::LOCKED, "{cookie}");
    }
    // A cookie for another account still works there.
    assert_eq!(
        h.sign_in_with_cookies("other@example.com", PASSWORD, &other)
            .await
            .status,
        StatusCode::OK
    );
}

async fn token_clients_present_their_device_token_in_the_body(h: Harness) {
    h.sign_up("cli@example.com", PASSWORD).await;
    let body = |extra: serde_json::Value| {
        let mut b =
            json!({"email": "cli@example.com", "password": PASSWORD, "session_delivery": "token"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b.to_string().into_bytes()
    };
    let cli = |b: Vec<u8>| h.request("POST", "/auth/sign-in", b, Some(JSON), None, vec![]);
    let first = cli(body(json!({}))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.header("set-cookie").is_none());
    let device = first.json["device_token"]
        .as_str()
        .expect("a device token in the body")
        .to_owned();
    // The CLI's own clean sign-in is still counted on the address's budget.
    lock_for_strangers_after(&h, "cli@example.com", 1).await;
    assert_eq!(cli(body(json!({}))).await.status, StatusCode::LOCKED);
    let trusted = cli(body(json!({ "device_token": device }))).await;
    assert_eq!(trusted.status, StatusCode::OK, "{}", trusted.text);
}

async fn verifying_an_address_ends_the_session_it_arrived_with(h: Harness) {
    let old = h.sign_up("first@example.com", PASSWORD).await.cookie();
    let asked = h
        .post_raw(
            "/auth/sign-up",
            creds("second@example.com", PASSWORD),
            JSON,
            Some(&old),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    assert_eq!(
        h.get("/auth/session", Some(&old)).await.status,
        StatusCode::OK,
        "asking signs nobody out"
    );
    let token = mail_token(&h.latest_mail("second@example.com"));
    let res = h
        .post_json("/auth/verify-email", json!({ "token": token }), Some(&old))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        h.get("/auth/session", Some(&old)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let new = h.get("/auth/session", Some(&res.cookie())).await;
    assert_eq!(new.json["user"]["email"], "second@example.com");
    // A sign-up for a taken address signs nobody out either.
    let current = res.cookie();
    let taken = h
        .post_raw(
            "/auth/sign-up",
            creds("first@example.com", PASSWORD),
            JSON,
            Some(&current),
        )
        .await;
    assert_eq!(taken.status, StatusCode::ACCEPTED);
    assert_eq!(
        h.get("/auth/session", Some(&current)).await.status,
        StatusCode::OK
    );
}

async fn sign_out_ends_the_session_and_clears_the_cookie(h: Harness) {
    let cookie = h.sign_up("out@example.com", PASSWORD).await.cookie();
    let res = h
        .post_json("/auth/sign-out", json!({}), Some(&cookie))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let cleared = res.header("set-cookie").unwrap();
    assert!(
        cleared.starts_with("__Host-authfn_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // A copy of the cookie kept from before sign-out is dead.
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Signing out again is harmless.
    assert_eq!(
        h.post_json("/auth/sign-out", json!({}), Some(&cookie))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

async fn sign_out_everywhere_ends_every_session(h: Harness) {
    let laptop = h.sign_up("everywhere@example.com", PASSWORD).await.cookie();
    let phone = h.sign_in("everywhere@example.com", PASSWORD).await.cookie();
    let other_user = h.sign_up("bystander@example.com", PASSWORD).await.cookie();
    assert_eq!(
        h.get("/auth/session", Some(&phone)).await.status,
        StatusCode::OK
    );
    let res = h
        .post_json("/auth/sign-out/all", json!({}), Some(&laptop))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    assert_eq!(
        h.get("/auth/session", Some(&laptop)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/auth/session", Some(&phone)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/auth/session", Some(&other_user)).await.status,
        StatusCode::OK
    );
    // Without a session there is nothing to sign out of.
    assert_eq!(
        h.post_json("/auth/sign-out/all", json!({}), Some(&laptop))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // New sign-ins work again.
    let fresh = h.sign_in("everywhere@example.com", PASSWORD).await.cookie();
    assert_eq!(
        h.get("/auth/session", Some(&fresh)).await.status,
        StatusCode::OK
    );
}

async fn idle_sessions_expire(h: Harness) {
    let cookie = h.sign_up("idle@example.com", PASSWORD).await.cookie();
    h.clock.advance(Duration::from_secs(30 * 60 - 1));
    // Still alive one second before the deadline (and this request slides it)…
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::OK
    );
    h.clock.advance(Duration::from_secs(30 * 60));
    // …but 30 idle minutes after the last request it is gone.
    let res = h.get("/auth/session", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json["error"], "unauthenticated");
}

async fn activity_slides_the_idle_deadline_with_few_writes(h: Harness) {
    let cookie = h.sign_up("slide@example.com", PASSWORD).await.cookie();
    let start = h.now();
    // Before half the idle window has passed, requests do not write: the deadline stays.
    h.clock.advance(Duration::from_secs(10 * 60));
    let early = h.get("/auth/session", Some(&cookie)).await;
    assert_eq!(early.json["session"]["idle_expires_at"], start + 30 * 60);
    // Past half the window, the deadline moves to 30 minutes from now.
    h.clock.advance(Duration::from_secs(6 * 60));
    let late = h.get("/auth/session", Some(&cookie)).await;
    assert_eq!(late.json["session"]["idle_expires_at"], h.now() + 30 * 60);
    // And that renewal was stored: the session outlives its original idle deadline.
    h.clock.advance(Duration::from_secs(20 * 60));
    assert!(h.now() > start + 30 * 60);
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::OK
    );
}

async fn the_absolute_lifetime_caps_an_active_session(h: Harness) {
    let cookie = h.sign_up("marathon@example.com", PASSWORD).await.cookie();
    let start = h.now();
    // Active every 20 minutes for 12 hours: the idle timeout never fires…
    while h.now() + 20 * 60 < start + 12 * 3600 {
        h.clock.advance(Duration::from_secs(20 * 60));
        let res = h.get("/auth/session", Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::OK, "at +{}s", h.now() - start);
        assert!(res.json["session"]["idle_expires_at"].as_i64().unwrap() <= start + 12 * 3600);
    }
    // …but the absolute lifetime does.
    h.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn cross_site_state_changes_are_refused(h: Harness) {
    let cookie = h.sign_up("csrf@example.com", PASSWORD).await.cookie();
    let sign_out_all = |headers: Vec<(&'static str, &'static str)>| {
        h.request(
            "POST",
            "/auth/sign-out/all",
            b"{}".to_vec(),
            Some(JSON),
            Some(&cookie),
            headers,
        )
    };
    for hostile in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "https://app.example.com.evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "none")],
        // A sibling subdomain is not a trusted origin.
        vec![("sec-fetch-site", "same-site")],
        vec![], // a cookie but no word on where the request came from
    ] {
        let res = sign_out_all(hostile.clone()).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{hostile:?}");
        assert_eq!(res.json["error"], "csrf_rejected");
    }
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::OK,
        "nothing was revoked"
    );
    assert_eq!(
        sign_out_all(vec![("sec-fetch-site", "same-origin")])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // A non-browser client (no cookie, no Origin) is not subject to CSRF checks.
    let cli = h
        .request(
            "POST",
            "/auth/sign-in",
            creds("csrf@example.com", PASSWORD),
            Some(JSON),
            None,
            vec![],
        )
        .await;
    assert_eq!(cli.status, StatusCode::OK);
}

async fn cors_admits_only_trusted_origins(h: Harness) {
    let preflight = |origin: &'static str, method: &'static str| {
        h.request(
            "OPTIONS",
            "/auth/sign-in",
            vec![],
            None,
            None,
            vec![
                ("origin", origin),
                ("access-control-request-method", method),
                ("access-control-request-headers", "content-type"),
            ],
        )
    };
    let ok = preflight(TRUSTED_ORIGIN, "POST").await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some(TRUSTED_ORIGIN)
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.header("access-control-allow-methods"), Some("POST"));
    for (origin, method) in [("https://evil.example", "POST"), (TRUSTED_ORIGIN, "DELETE")] {
        let refused = preflight(origin, method).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{origin} {method}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
    // Actual responses carry the exact origin (never `*`) only for trusted origins.
    let trusted = h.sign_up("cors@example.com", PASSWORD).await;
    assert_eq!(
        trusted.header("access-control-allow-origin"),
        Some(TRUSTED_ORIGIN)
    );
    assert!(trusted.header("vary").is_some_and(|v| v.contains("Origin")));
    let evil = h
        .request(
            "GET",
            "/auth/session",
            vec![],
            None,
            None,
            vec![("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(evil.header("access-control-allow-origin"), None);
}

async fn non_browser_clients_get_a_bearer_token(h: Harness) {
    h.sign_up("cli@example.com", PASSWORD).await;
    let body = json!({"email":"cli@example.com","password":PASSWORD,"session_delivery":"token"})
        .to_string();
    let res = h
        .request(
            "POST",
            "/auth/sign-in",
            body.clone().into_bytes(),
            Some(JSON),
            None,
            vec![],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(
        res.header("set-cookie").is_none(),
        "a token client gets no cookie"
    );
    let token = res.json["session_token"]
        .as_str()
        .expect("session_token")
        .to_owned();
    let auth = format!("Bearer {token}");
    let me = h
        .request(
            "GET",
            "/me",
            vec![],
            None,
            None,
            vec![("authorization", leak(auth))],
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["email"], "cli@example.com");
    // A browser may not ask for the token, even from a trusted origin.
    let from_browser = h
        .request(
            "POST",
            "/auth/sign-in",
            body.into_bytes(),
            Some(JSON),
            None,
            vec![("origin", TRUSTED_ORIGIN)],
        )
        .await;
    assert_eq!(from_browser.status, StatusCode::BAD_REQUEST);
    assert_eq!(from_browser.json["error"], "token_delivery_refused");
}

async fn protected_routes_need_a_session(h: Harness) {
    let anonymous = h.get("/me", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json["error"], "unauthenticated");
    let cookie = h.sign_up("me@example.com", PASSWORD).await.cookie();
    let me = h.get("/me", Some(&cookie)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["email"], "me@example.com");
    let head = h
        .request("HEAD", "/me", vec![], None, Some(&cookie), vec![])
        .await;
    assert_eq!((head.status, head.text.as_str()), (StatusCode::OK, ""));
    let wrong_method = h.get("/auth/sign-in", None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert_eq!(h.get("/nope", None).await.status, StatusCode::NOT_FOUND);
}

async fn tampered_and_unknown_cookies_are_unauthenticated(h: Harness) {
    let cookie = h.sign_up("tamper@example.com", PASSWORD).await.cookie();
    let (name, value) = cookie.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).unwrap());
    for bad in [
        tampered,
        format!("{name}=v1.x.y"),
        format!("{name}="),
        format!("{name}=v1.{}.{}", "A".repeat(43), "B".repeat(43)),
    ] {
        let res = h.get("/auth/session", Some(&bad)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
}

/// An upgrade must not sign everyone out: a `v1.` cookie (token and tag, no user id) still
/// names its session. And a `v2.` value naming another user than the session's is refused,
/// even when correctly signed (which only a holder of the key could do).
async fn cookies_signed_before_the_user_id_rode_along_still_work(h: Harness) {
    let up = h.sign_up("upgrade@example.com", PASSWORD).await;
    let cookie = up.cookie();
    let (name, value) = cookie.split_once('=').unwrap();
    let keys = &h.app.config().session_keys;
    let presented = authfn::token::SessionToken::verify(value, keys).unwrap();
    let token = presented.token.secret();
    let tag = keys.sign(b"authfn/session/v1\0", token);
    let v1 = format!(
        "{name}=v1.{}.{}",
        authfn::crypto::b64url(token),
        authfn::crypto::b64url(&tag)
    );
    let me = h.get("/auth/session", Some(&v1)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["user"]["id"], up.json["user_id"]);

    let someone_else = authfn::token::UserId::generate().unwrap();
    let misnamed = presented.token.sign(&someone_else, keys);
    let res = h
        .get(
            "/auth/session",
            Some(&format!("{name}={}", misnamed.secret())),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
    // The session itself is untouched.
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::OK
    );
}

// Tests that need a particular configuration or a failing store, so run once each.

#[tokio::test]
async fn rate_limits_count_per_client_ip_in_the_store() {
    let h = Harness::memory(&[("AUTHFN_RATE_LIMIT_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        assert_eq!(
            h.sign_in("rl@example.com", "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // A client cannot dodge the limit by claiming another address in a header.
    let spoofed = h
        .request(
            "POST",
            "/auth/sign-in",
            creds("rl@example.com", "x"),
            Some(JSON),
            None,
            vec![("x-forwarded-for", "198.51.100.9")],
        )
        .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(spoofed.json["error"], "rate_limited");
    assert_eq!(spoofed.header("retry-after"), Some("60"));
    // Another client IP has its own budget, and sign-up is counted apart from sign-in.
    let elsewhere = h
        .sign_in_from("198.51.100.10", "rl@example.com", "wrong password")
        .await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.sign_up_request("rl2@example.com", PASSWORD).await.status,
        StatusCode::ACCEPTED
    );
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(
        h.sign_in("rl3@example.com", "wrong password").await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Twenty wrong passwords at once: each waits in argon2 long enough for all of them to be in
/// flight together, so a lockout that counted only after argon2 would let every one guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 20)]
async fn parallel_wrong_passwords_get_at_most_the_limit_of_guesses_and_the_owner_still_signs_in() {
    let h = std::sync::Arc::new(
        Harness::memory(&[
            ("AUTHFN_ARGON2_MEMORY_KIB", "2048"),
            ("AUTHFN_RATE_LIMIT_PER_MINUTE", "100"),
        ])
        .await,
    );
    h.sign_up("target@example.com", PASSWORD).await;
    let device = h
        .sign_in("target@example.com", PASSWORD)
        .await
        .cookie_named("__Host-authfn_device");
    let before = h.app.argon2_runs();
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                h.sign_in("target@example.com", &format!("guess number {i}"))
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        let res = g.await.unwrap();
        if res.status == StatusCode::LOCKED {
            assert!(
                res.header("retry-after")
                    .is_some_and(|s| s.parse::<u64>().unwrap() > 0)
            );
        }
        statuses.push(res.status.as_u16());
    }
    let evaluated = h.app.argon2_runs() - before;
    // The owner's clean sign-in above is still counted on the address's budget: 4 attempts
    // are left, the last of which locks.
    assert!(
        evaluated <= 4,
        "{evaluated} guesses reached argon2: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 423).count(),
        17,
        "{statuses:?}"
    );
    // The owner's browser signed in before: it gets in. A fresh client does not, and costs
    // no argon2 run either.
    let owner = h
        .sign_in_with_cookies("target@example.com", PASSWORD, &device)
        .await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text);
    let runs = h.app.argon2_runs();
    assert_eq!(
        h.sign_in("target@example.com", PASSWORD).await.status,
        StatusCode::LOCKED
    );
    assert_eq!(h.app.argon2_runs(), runs);
}

#[tokio::test]
async fn device_cookies_survive_key_rotation_until_the_old_key_is_dropped() {
    let (old, new) = (key_b64(1), key_b64(2));
    let h = Harness::memory(&[("AUTHFN_SESSION_KEYS", &old)]).await;
    let device = h
        .sign_up("rot@example.com", PASSWORD)
        .await
        .cookie_named("__Host-authfn_device");
    for _ in 0..5 {
        h.sign_in("rot@example.com", "guess guess").await;
    }
    let rotated = h.reconfigure(&[("AUTHFN_SESSION_KEYS", &format!("{new},{old}"))]);
    assert_eq!(
        rotated
            .sign_in_with_cookies("rot@example.com", PASSWORD, &device)
            .await
            .status,
        StatusCode::OK
    );
    let dropped = h.reconfigure(&[("AUTHFN_SESSION_KEYS", &new)]);
    assert_eq!(
        dropped
            .sign_in_with_cookies("rot@example.com", PASSWORD, &device)
            .await
            .status,
        StatusCode::LOCKED
    );
}

#[tokio::test]
async fn plain_http_development_names_the_device_cookie_without_the_host_prefix() {
    let h = Harness::memory(&[
        ("AUTHFN_COOKIE_SECURE", "false"),
        ("AUTHFN_TRUSTED_ORIGINS", "http://localhost:5173"),
    ])
    .await;
    let headers = vec![("origin", "http://localhost:5173")];
    let asked = h
        .request(
            "POST",
            "/auth/sign-up",
            creds("dev@example.com", PASSWORD),
            Some(JSON),
            None,
            headers.clone(),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    let proof = json!({ "token": mail_token(&h.latest_mail("dev@example.com")) })
        .to_string()
        .into_bytes();
    let res = h
        .request(
            "POST",
            "/auth/verify-email",
            proof,
            Some(JSON),
            None,
            headers,
        )
        .await;
    let set = res
        .set_cookie("authfn_device")
        .unwrap_or_else(|| panic!("no device cookie: {}", res.text));
    assert!(!set.contains("Secure") && set.contains("HttpOnly"), "{set}");
}

#[tokio::test]
async fn a_trusted_proxy_header_names_the_client() {
    let h = Harness::memory(&[
        ("AUTHFN_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTHFN_CLIENT_IP_HEADER", "cf-connecting-ip"),
    ])
    .await;
    let from = |ip: &'static str| {
        h.request(
            "POST",
            "/auth/sign-in",
            creds("p@example.com", "wrong password"),
            Some(JSON),
            None,
            vec![("cf-connecting-ip", ip)],
        )
    };
    assert_eq!(from("192.0.2.1").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        from("192.0.2.1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(from("192.0.2.2").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotating_keys_keeps_sessions_until_the_old_key_is_dropped() {
    let old = key_b64(1);
    let new = key_b64(2);
    let h = Harness::memory(&[("AUTHFN_SESSION_KEYS", &old)]).await;
    let cookie = h.sign_up("rotate@example.com", PASSWORD).await.cookie();
    let rotated = h.reconfigure(&[("AUTHFN_SESSION_KEYS", &format!("{new},{old}"))]);
    assert_eq!(
        rotated.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::OK
    );
    let new_cookie = rotated
        .sign_in("rotate@example.com", PASSWORD)
        .await
        .cookie();
    let dropped = h.reconfigure(&[("AUTHFN_SESSION_KEYS", &new)]);
    assert_eq!(
        dropped.get("/auth/session", Some(&new_cookie)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        dropped.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[cfg(feature = "dynamodb")]
#[tokio::test]
async fn a_store_outage_is_a_503_and_forged_cookies_never_reach_the_store() {
    let h = Harness::unreachable_dynamodb().await;
    let res = h.sign_up("outage@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert_eq!(res.json["error"], "store_unavailable");
    assert!(res.header("retry-after").is_some());
    // A well-signed cookie must be looked up, so it meets the outage…
    let signed = format!("__Host-authfn_session={}", h.signed_random_token());
    assert_eq!(
        h.get("/auth/session", Some(&signed)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // …while a forged one is refused before any store read.
    let forged = h
        .get("/auth/session", Some("__Host-authfn_session=v1.AAAA.BBBB"))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

/// FAULT (test-only, named as such): an access-token issuer whose key set cannot be fetched,
/// answering as the native client does for a host that refuses connections.
struct UnreachableIssuer;

#[async_trait::async_trait]
impl authfn::federation::outbound::HttpClient for UnreachableIssuer {
    async fn send(
        &self,
        _: authfn::federation::outbound::OutboundRequest,
    ) -> Result<
        authfn::federation::outbound::OutboundResponse,
        authfn::federation::outbound::OutboundError,
    > {
        Err(authfn::federation::outbound::OutboundError::Failed(
            "connection refused".into(),
        ))
    }
}

#[tokio::test]
async fn a_resource_server_that_cannot_fetch_the_issuers_keys_says_so() {
    // A resource server: it trusts another deployment's tokens and must fetch its keys.
    let h = Harness::memory(&[("AUTHFN_ACCESS_TOKEN_ISSUER", "https://auth.example.com")])
        .await
        .with_http_client(std::sync::Arc::new(UnreachableIssuer));
    let req = http::Request::get("https://api.example.com/me")
        .header(
            "authorization",
            "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln",
        )
        .body(bytes::Bytes::new())
        .unwrap();
    let res = h.app.route(req).await;
    // Not a 401: the token may be fine, and the client should retry rather than sign in again.
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_str(res.body()).unwrap();
    assert_eq!(body["error"], "keys_unavailable");
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_function_given_only_the_issuers_public_keys_publishes_them_but_never_signs_or_authenticates_clients()
 {
    let seed = key_b64(7);
    let public = authfn::oauth::keys::JwtKeys::parse(&seed).unwrap().jwks()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    let issuer = [
        ("AUTHFN_PUBLIC_URL", "https://api.example.com"),
        ("AUTHFN_OAUTH_CLIENTS", "cli,resource-server"),
    ];
    let client_secret = "q8Zr1fLm3XkT0bWc9sNd2VyH7uJa5GeP4oRi6EtYw-_";
    let secrets = [
        ("AUTHFN_JWT_KEYS", seed.as_str()),
        ("AUTHFN_OAUTH_CLIENT_RESOURCE_SERVER_SECRET", client_secret),
    ];
    let signing = Harness::memory(&[&issuer[..], &secrets[..]].concat()).await;
    let publishing = Harness::memory(
        &[
            &issuer[..],
            &[("AUTHFN_JWT_PUBLIC_KEYS", public.as_str())][..],
        ]
        .concat(),
    )
    .await;

    let jwks = publishing.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert_eq!(
        jwks.json,
        signing.get("/.well-known/jwks.json", None).await.json,
        "the same keys are published"
    );
    for endpoint in authfn::Endpoint::ALL {
        assert!(signing.app.check_can_serve(endpoint).is_ok());
        let refused = publishing.app.check_can_serve(endpoint).is_err();
        assert_eq!(
            refused,
            endpoint.uses_issuer_secrets(),
            "{endpoint:?} with public keys only"
        );
    }
    // Were it deployed anyway: the confidential client without its secret is not let in.
    let form = "grant_type=refresh_token&refresh_token=x&client_id=resource-server";
    let res = publishing
        .post_raw(
            "/oidc/token",
            form.as_bytes().to_vec(),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        res.text
    );
}

#[tokio::test]
async fn federation_begin_and_callback_are_rate_limited_per_client_ip() {
    let h = Harness::memory(&[
        ("AUTHFN_RATE_LIMIT_PER_MINUTE", "2"),
        ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
        ("AUTHFN_RETURN_TO", "https://app.example.com/"),
        ("AUTHFN_FEDERATION_PROVIDERS", "okta"),
        ("AUTHFN_FEDERATION_OKTA_ISSUER", "https://okta.example.com"),
        ("AUTHFN_FEDERATION_OKTA_CLIENT_ID", "authfn"),
        (
            "AUTHFN_FEDERATION_OKTA_CLIENT_SECRET",
            "a client secret of some length",
        ),
    ])
    .await
    .with_http_client(std::sync::Arc::new(UnreachableIssuer));
    let json = vec![("accept", "application/json")];
    for (path, before_the_limit) in [
        ("/auth/federation/okta/begin", StatusCode::BAD_GATEWAY),
        (
            "/auth/federation/okta/callback?state=guess&code=guess",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        for _ in 0..2 {
            assert_eq!(
                h.request("GET", path, Vec::new(), None, None, json.clone())
                    .await
                    .status,
                before_the_limit,
                "{path}"
            );
        }
        let limited = h
            .request("GET", path, Vec::new(), None, None, json.clone())
            .await;
        assert_eq!(
            (limited.status, limited.json["error"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
            "{path}"
        );
        let elsewhere = h
            .request_from(
                "198.51.100.7",
                "GET",
                path,
                Vec::new(),
                None,
                None,
                json.clone(),
            )
            .await;
        assert_eq!(
            elsewhere.status, before_the_limit,
            "{path}: another client has its own budget"
        );
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
