//! Refresh tokens (OAuth 2.0 Security BCP §4.14): each refresh rotates the token, a rotated
//! token that comes back revokes its whole family, and of parallel refreshes of one token
//! exactly one wins. Driven through `App::handle` with the manual clock, over each store.
#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

mod support;

use http::StatusCode;
use support::issuer::*;
use support::*;

const SCOPE: &str = "openid email offline_access";

for_each_store!(
    a_refresh_answers_new_tokens_and_a_new_refresh_token,
    a_rotated_refresh_token_no_longer_refreshes,
    a_rotated_refresh_token_that_comes_back_revokes_its_whole_family,
    reuse_revokes_only_the_family_it_belongs_to,
    a_refresh_may_narrow_the_scope_but_never_widen_it,
    a_revoked_refresh_token_is_dead,
    signing_out_everywhere_ends_every_refresh_token_family,
    an_unused_refresh_token_expires_and_a_family_ends_at_its_lifetime,
    a_refresh_token_is_only_good_for_the_client_it_was_issued_to,
);
for_each_store!(racing: parallel_refreshes_of_one_token_have_exactly_one_winner);

async fn a_refresh_answers_new_tokens_and_a_new_refresh_token(h: Harness) {
    let h = h.issuer(&[]);
    let first = h.device_tokens("ada@example.com", SCOPE).await;
    let res = h.refresh(first.refresh()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let second = Tokens(res.json);
    assert_ne!(second.refresh(), first.refresh(), "rotated");
    assert_ne!(second.access(), first.access());
    assert_eq!(second.0["scope"], SCOPE);
    assert_eq!(
        jwt_part(second.access(), 1)["sub"],
        jwt_part(first.access(), 1)["sub"]
    );
    assert_eq!(
        h.userinfo(second.access()).await.json["email"],
        "ada@example.com"
    );
    assert_eq!(h.introspect(second.refresh()).await["active"], true);
    // The new one refreshes in turn.
    assert_eq!(h.refresh(second.refresh()).await.status, StatusCode::OK);
}

async fn a_rotated_refresh_token_no_longer_refreshes(h: Harness) {
    let h = h.issuer(&[]);
    let first = h.device_tokens("bob@example.com", SCOPE).await;
    assert_eq!(h.refresh(first.refresh()).await.status, StatusCode::OK);
    assert_eq!(
        h.refresh(first.refresh()).await.error(),
        (400, "invalid_grant")
    );
    assert_eq!(h.introspect(first.refresh()).await["active"], false);
}

async fn a_rotated_refresh_token_that_comes_back_revokes_its_whole_family(h: Harness) {
    let h = h.issuer(&[]);
    let first = h.device_tokens("stolen@example.com", SCOPE).await;
    let second = Tokens(h.refresh(first.refresh()).await.json);
    let third = Tokens(h.refresh(second.refresh()).await.json);
    assert_eq!(h.introspect(third.refresh()).await["active"], true);
    // An attacker replays the first token: refused, and the legitimate client's current
    // token dies with it, since nobody can tell which of the two is the thief.
    let replayed = h.refresh(first.refresh()).await;
    assert_eq!(replayed.error(), (400, "invalid_grant"));
    assert!(
        replayed.json["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{}",
        replayed.text
    );
    assert_eq!(h.introspect(third.refresh()).await["active"], false);
    assert_eq!(
        h.refresh(third.refresh()).await.error(),
        (400, "invalid_grant")
    );
    assert_eq!(
        h.refresh(second.refresh()).await.error(),
        (400, "invalid_grant")
    );
}

async fn reuse_revokes_only_the_family_it_belongs_to(h: Harness) {
    let h = h.issuer(&[]);
    let laptop = h.device_tokens("two-devices@example.com", SCOPE).await;
    let cookie = h
        .sign_in("two-devices@example.com", PASSWORD)
        .await
        .cookie();
    let asked = h.device_authorize(SCOPE).await;
    h.answer(&cookie, asked["user_code"].as_str().unwrap(), "approve")
        .await;
    let phone = Tokens(h.poll(asked["device_code"].as_str().unwrap()).await.json);

    h.refresh(laptop.refresh()).await;
    assert_eq!(
        h.refresh(laptop.refresh()).await.error(),
        (400, "invalid_grant"),
        "reuse"
    );
    assert_eq!(
        h.refresh(phone.refresh()).await.status,
        StatusCode::OK,
        "the phone's sign-in is another family"
    );
}

async fn a_refresh_may_narrow_the_scope_but_never_widen_it(h: Harness) {
    let h = h.issuer(&[]);
    let first = h
        .device_tokens("narrow@example.com", "openid offline_access")
        .await;
    let wider = [
        ("grant_type", "refresh_token"),
        ("refresh_token", first.refresh()),
        ("client_id", "cli"),
        ("scope", "openid email"),
    ];
    assert_eq!(
        h.form("/oidc/token", &wider).await.error(),
        (400, "invalid_scope")
    );
    // A refused widening spends nothing: the token still refreshes.
    let narrower = [
        ("grant_type", "refresh_token"),
        ("refresh_token", first.refresh()),
        ("client_id", "cli"),
        ("scope", "offline_access"),
    ];
    let res = h.form("/oidc/token", &narrower).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["scope"], "offline_access");
    assert!(
        res.json.get("id_token").is_none(),
        "no openid, no ID token: {}",
        res.text
    );
}

async fn a_revoked_refresh_token_is_dead(h: Harness) {
    let h = h.issuer(&[]);
    let first = h.device_tokens("leaving@example.com", SCOPE).await;
    let second = Tokens(h.refresh(first.refresh()).await.json);
    let revoked = h
        .form(
            "/oidc/revoke",
            &[("token", second.refresh()), ("client_id", "cli")],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(
        h.refresh(second.refresh()).await.error(),
        (400, "invalid_grant")
    );
    assert_eq!(h.introspect(second.refresh()).await["active"], false);
}

async fn signing_out_everywhere_ends_every_refresh_token_family(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("everywhere@example.com", SCOPE).await;
    let cookie = h.sign_in("everywhere@example.com", PASSWORD).await.cookie();
    assert_eq!(
        h.post_raw("/auth/sign-out/all", b"{}".to_vec(), JSON, Some(&cookie))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.introspect(tokens.refresh()).await["active"], false);
    assert_eq!(
        h.refresh(tokens.refresh()).await.error(),
        (400, "invalid_grant")
    );
}

async fn an_unused_refresh_token_expires_and_a_family_ends_at_its_lifetime(h: Harness) {
    let h = h.issuer(&[
        ("AUTHFN_REFRESH_TOKEN_SECS", "1000"),
        ("AUTHFN_REFRESH_FAMILY_SECS", "2500"),
    ]);
    let idle = h.device_tokens("idle@example.com", SCOPE).await;
    let active = h.device_tokens("active@example.com", SCOPE).await;
    h.wait(999);
    let mut current = Tokens(h.refresh(active.refresh()).await.json);
    h.wait(1);
    assert_eq!(
        h.refresh(idle.refresh()).await.error(),
        (400, "invalid_grant"),
        "unused for its whole lifetime"
    );
    // Refreshing in time keeps a family going, up to the family's own lifetime: from 1500 s
    // on, a new token lives only until the family ends at 2500 s.
    for wait in [900, 599] {
        h.wait(wait);
        let res = h.refresh(current.refresh()).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        current = Tokens(res.json);
    }
    h.wait(1);
    assert_eq!(
        h.refresh(current.refresh()).await.error(),
        (400, "invalid_grant"),
        "the family is over"
    );
}

async fn a_refresh_token_is_only_good_for_the_client_it_was_issued_to(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("mine@example.com", SCOPE).await;
    let as_other = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh()),
        ("client_id", "resource-server"),
        ("client_secret", RS_SECRET),
    ];
    assert_eq!(
        h.form("/oidc/token", &as_other).await.error(),
        (400, "invalid_grant")
    );
    assert_eq!(
        h.refresh(tokens.refresh()).await.status,
        StatusCode::OK,
        "still the CLI's"
    );
}

/// A CLI that retries a refresh on a flaky network, or two of its processes that refresh at
/// once: all read the token before any rotates it. One gets the next tokens; the others
/// lose the rotation, which is reuse.
async fn parallel_refreshes_of_one_token_have_exactly_one_winner(h: Harness) {
    let h = h.issuer(&[]);
    let tokens = h.device_tokens("parallel@example.com", SCOPE).await;
    let token = tokens.refresh();
    let (a, b, c) = tokio::join!(h.refresh(token), h.refresh(token), h.refresh(token));
    let answers: Vec<(u16, String)> = [&a, &b, &c]
        .iter()
        .map(|r| {
            (
                r.status.as_u16(),
                r.json["error"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 200).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(s, e)| *s == 200 || (*s == 400 && e == "invalid_grant")),
        "{answers:?}"
    );
    // The losers presented a token already rotated: reuse, as far as anyone can tell, so the
    // family ends, the winner's new token with it.
    let winner = [&a, &b, &c]
        .into_iter()
        .find(|r| r.status == StatusCode::OK)
        .unwrap();
    assert_eq!(
        h.refresh(winner.json["refresh_token"].as_str().unwrap())
            .await
            .error(),
        (400, "invalid_grant")
    );
}
