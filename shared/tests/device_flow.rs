//! The device authorization grant (RFC 8628) from both ends: the device that asks and polls,
//! and the signed-in user who answers on the device page. Driven through `App::handle` with
//! the manual clock, over each store.
#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

mod support;

use http::StatusCode;
use serde_json::Value;
use support::issuer::*;
use support::*;

for_each_store!(
    a_device_gets_tokens_once_the_signed_in_user_approves,
    a_device_that_polls_before_the_user_answers_is_told_to_wait,
    polling_faster_than_the_interval_slows_the_device_down_for_good,
    a_denied_request_gets_no_tokens,
    an_unanswered_code_expires_on_the_clock,
    a_device_code_gets_tokens_only_once,
    a_user_code_is_answered_only_once,
    only_a_signed_in_user_can_see_or_answer_a_code,
    a_user_code_is_found_however_the_user_types_it,
);
for_each_store!(
    racing:
    concurrent_polls_of_an_approved_code_get_tokens_once,
    of_two_concurrent_answers_to_one_code_exactly_one_lands,
);

/// A device has asked; the user is signed in in their browser.
struct Asked {
    device_code: String,
    user_code: String,
    cookie: String,
}

async fn ask(h: &Harness, email: &str) -> Asked {
    let cookie = h.sign_up(email, PASSWORD).await.cookie();
    let asked = h.device_authorize("openid email offline_access").await;
    let text = |field: &str| {
        asked[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {asked}"))
            .to_owned()
    };
    Asked {
        device_code: text("device_code"),
        user_code: text("user_code"),
        cookie,
    }
}

async fn a_device_gets_tokens_once_the_signed_in_user_approves(h: Harness) {
    let h = h.issuer(&[]);
    let cookie = h.sign_up("ada@example.com", PASSWORD).await.cookie();
    let asked = h.device_authorize("openid email offline_access").await;
    assert_eq!(asked["expires_in"], DEVICE_CODE_SECS);
    assert_eq!(asked["interval"], DEVICE_INTERVAL_SECS);
    assert_eq!(
        asked["verification_uri"],
        "https://auth.example.com/oidc/device"
    );
    let user_code = asked["user_code"].as_str().unwrap();
    assert_eq!(
        asked["verification_uri_complete"],
        format!("https://auth.example.com/oidc/device?user_code={user_code}")
    );

    let page = h.device_page(Some(&cookie), user_code).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("ada@example.com") && page.text.contains("openid email offline_access"),
        "{}",
        page.text
    );
    let approved = h.answer(&cookie, user_code, "approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);

    let tokens = h.poll(asked["device_code"].as_str().unwrap()).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(tokens.json["token_type"], "Bearer");
    assert_eq!(tokens.json["expires_in"], ACCESS_TOKEN_SECS);
    assert_eq!(tokens.json["scope"], "openid email offline_access");
    assert!(
        tokens.json["refresh_token"].is_string() && tokens.json["id_token"].is_string(),
        "{}",
        tokens.text
    );
    let me = h.get("/auth/session", Some(&cookie)).await.json["user"]["id"].clone();
    let access = tokens.json["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_part(access, 1)["sub"],
        me,
        "the tokens are the approving user's"
    );
    let info = h.userinfo(access).await;
    assert_eq!(
        (info.status, info.json["email"].as_str()),
        (StatusCode::OK, Some("ada@example.com")),
        "{}",
        info.text
    );
}

async fn a_device_that_polls_before_the_user_answers_is_told_to_wait(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "patient@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            h.poll(&asked.device_code).await.error(),
            (400, "authorization_pending")
        );
        h.wait(DEVICE_INTERVAL_SECS);
    }
    assert_eq!(
        h.answer(&asked.cookie, &asked.user_code, "approve")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(h.poll(&asked.device_code).await.status, StatusCode::OK);
}

async fn polling_faster_than_the_interval_slows_the_device_down_for_good(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "eager@example.com").await;
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "authorization_pending")
    );
    h.wait(DEVICE_INTERVAL_SECS - 1);
    assert_eq!(h.poll(&asked.device_code).await.error(), (400, "slow_down"));
    // The interval is now 5 s longer, counted from the refused poll…
    h.wait(DEVICE_INTERVAL_SECS + 5);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "authorization_pending")
    );
    // …and for good: the old interval is too fast from here on, and each too-fast poll
    // adds another 5 s.
    h.wait(DEVICE_INTERVAL_SECS);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "slow_down"),
        "5 s is too fast now"
    );
    h.wait(DEVICE_INTERVAL_SECS + 10);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "authorization_pending")
    );
    // Slowing down does not lose the approval.
    assert_eq!(
        h.answer(&asked.cookie, &asked.user_code, "approve")
            .await
            .status,
        StatusCode::OK
    );
    h.wait(DEVICE_INTERVAL_SECS + 10);
    assert_eq!(h.poll(&asked.device_code).await.status, StatusCode::OK);
}

async fn a_denied_request_gets_no_tokens(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "careful@example.com").await;
    let denied = h.answer(&asked.cookie, &asked.user_code, "deny").await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.text);
    assert!(denied.text.contains("denied"), "{}", denied.text);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "access_denied")
    );
    h.wait(DEVICE_INTERVAL_SECS);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "access_denied"),
        "and stays denied"
    );
    // Nor can the user change their mind into an approval.
    assert_eq!(
        h.answer(&asked.cookie, &asked.user_code, "approve")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    h.wait(DEVICE_INTERVAL_SECS);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "access_denied")
    );
}

async fn an_unanswered_code_expires_on_the_clock(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "late@example.com").await;
    h.wait(DEVICE_CODE_SECS - 1);
    assert_eq!(
        h.device_page(Some(&asked.cookie), &asked.user_code)
            .await
            .status,
        StatusCode::OK,
        "alive until the end"
    );
    h.wait(1);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "expired_token")
    );
    let page = h.device_page(Some(&asked.cookie), &asked.user_code).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text.contains("Code not recognised"), "{}", page.text);
    assert_eq!(
        h.answer(&asked.cookie, &asked.user_code, "approve")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "expired_token"),
        "approving did not revive it"
    );
}

async fn a_device_code_gets_tokens_only_once(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "once@example.com").await;
    h.answer(&asked.cookie, &asked.user_code, "approve").await;
    assert_eq!(h.poll(&asked.device_code).await.status, StatusCode::OK);
    h.wait(DEVICE_INTERVAL_SECS);
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "invalid_grant"),
        "a copy of the code gets nothing"
    );
    // The code is no longer pending, so the page does not offer it either.
    assert_eq!(
        h.device_page(Some(&asked.cookie), &asked.user_code)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

async fn a_user_code_is_answered_only_once(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "twice@example.com").await;
    assert_eq!(
        h.answer(&asked.cookie, &asked.user_code, "approve")
            .await
            .status,
        StatusCode::OK
    );
    // A second tab, or someone else who was sent the code: too late to answer.
    let other = h
        .sign_up("someone-else@example.com", PASSWORD)
        .await
        .cookie();
    for cookie in [&asked.cookie, &other] {
        let again = h.answer(cookie, &asked.user_code, "deny").await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    }
    let tokens = h.poll(&asked.device_code).await;
    assert_eq!(
        tokens.status,
        StatusCode::OK,
        "the first answer stands: {}",
        tokens.text
    );
    let me = h.get("/auth/session", Some(&asked.cookie)).await.json["user"]["id"].clone();
    assert_eq!(
        jwt_part(tokens.json["access_token"].as_str().unwrap(), 1)["sub"],
        me
    );
}

async fn only_a_signed_in_user_can_see_or_answer_a_code(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "owner@example.com").await;
    let page = h.device_page(None, &asked.user_code).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    // The sign-in link brings the user back to this code.
    let back = url::form_urlencoded::byte_serialize(
        format!(
            "https://auth.example.com/oidc/device?user_code={}",
            asked.user_code
        )
        .as_bytes(),
    )
    .collect::<String>();
    assert!(
        page.text.contains(&format!("return_to={back}")),
        "{}",
        page.text
    );
    let body = format!("user_code={}&decision=approve", asked.user_code);
    let anonymous = h
        .post_raw("/oidc/device/verify", body.into_bytes(), FORM, None)
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );
    assert_eq!(
        h.poll(&asked.device_code).await.error(),
        (400, "authorization_pending"),
        "nothing was answered"
    );
}

async fn a_user_code_is_found_however_the_user_types_it(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "typist@example.com").await;
    let sloppy = format!(" {} ", asked.user_code.replace('-', "").to_lowercase());
    assert_eq!(
        h.device_page(Some(&asked.cookie), &sloppy).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.answer(&asked.cookie, &sloppy, "approve").await.status,
        StatusCode::OK
    );
    assert_eq!(h.poll(&asked.device_code).await.status, StatusCode::OK);
}

/// Several polls of one approved code at the same moment (a device retrying on a slow
/// network): all read the approval before any consumes it; one gets the tokens.
async fn concurrent_polls_of_an_approved_code_get_tokens_once(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "racer@example.com").await;
    h.answer(&asked.cookie, &asked.user_code, "approve").await;
    let code = asked.device_code.as_str();
    let (a, b, c) = tokio::join!(h.poll(code), h.poll(code), h.poll(code));
    let answers: Vec<Value> = [a, b, c]
        .iter()
        .map(|r| {
            if r.status == StatusCode::OK {
                "tokens".into()
            } else {
                r.json["error"].clone()
            }
        })
        .collect();
    assert_eq!(
        answers.iter().filter(|a| *a == "tokens").count(),
        1,
        "{answers:?}"
    );
}

/// The user answers one code in two tabs at once, allowing in one and denying in the other:
/// one answer lands, the other is told it came too late, and the device gets what the one
/// that landed said.
async fn of_two_concurrent_answers_to_one_code_exactly_one_lands(h: Harness) {
    let h = h.issuer(&[]);
    let asked = ask(&h, "two-tabs@example.com").await;
    let (approve, deny) = tokio::join!(
        h.answer(&asked.cookie, &asked.user_code, "approve"),
        h.answer(&asked.cookie, &asked.user_code, "deny")
    );
    let mut statuses = [approve.status.as_u16(), deny.status.as_u16()];
    statuses.sort();
    // The late one meets the code answered (409), or, if it read after the answer landed,
    // no longer pending (400).
    assert!(
        statuses == [200, 409] || statuses == [200, 400],
        "{statuses:?}: {} / {}",
        approve.text,
        deny.text
    );
    let polled = h.poll(&asked.device_code).await;
    if approve.status == StatusCode::OK {
        assert_eq!(polled.status, StatusCode::OK, "{}", polled.text);
    } else {
        assert_eq!(polled.error(), (400, "access_denied"));
    }
}
