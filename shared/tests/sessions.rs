//! A user's own sessions and activity: `GET /auth/sessions`, `POST /auth/sessions/{id}/revoke`
//! and `GET /auth/activity`, driven through `App::handle` with a clock the tests control, over
//! each store (see `support::for_each_store`).

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
mod support;

use std::collections::HashSet;

use authfn::UnixTime;
use authfn::events::{ActivityEntry, AuthMethod, EventType, SecurityEvent};
use authfn::token::{SessionId, UserId};
use http::StatusCode;
use serde_json::{Value, json};
use support::*;

for_each_store!(
    the_list_shows_each_session_with_its_device_and_network_and_marks_the_current_one,
    a_token_client_lists_and_revokes_with_its_bearer_token,
    revoking_another_session_ends_it_and_only_it,
    revoking_the_current_session_signs_this_browser_out,
    another_users_session_id_is_not_found_and_nothing_ends,
    every_endpoint_needs_a_live_session,
    a_cross_site_page_cannot_revoke_a_session,
    revoking_is_rate_limited_per_client,
    activity_pages_newest_first_without_gaps_or_repeats,
    activity_marks_the_events_of_the_session_asking,
    a_bad_limit_or_cursor_is_a_clear_400,
);

const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// A browser sign-in from `ip` with this `User-Agent`; returns the session cookie.
async fn sign_in_as(h: &Harness, ip: &str, user_agent: &str, email: &str) -> String {
    let res = h
        .request_from(
            ip,
            "POST",
            "/auth/sign-in",
            creds(email, PASSWORD),
            Some(JSON),
            None,
            vec![("origin", TRUSTED_ORIGIN), ("user-agent", user_agent)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.cookie()
}

/// The session's public id, as `GET /auth/session` tells its holder.
async fn session_id(h: &Harness, cookie: &str) -> String {
    let res = h.get("/auth/session", Some(cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json["session"]["id"].as_str().unwrap().to_owned()
}

async fn user_id(h: &Harness, cookie: &str) -> String {
    let res = h.get("/auth/session", Some(cookie)).await;
    res.json["user"]["id"].as_str().unwrap().to_owned()
}

async fn sessions(h: &Harness, cookie: &str) -> Vec<Value> {
    let res = h.get("/auth/sessions", Some(cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json["sessions"].as_array().unwrap().clone()
}

/// `POST /auth/sessions/{id}/revoke` as the SPA sends it: no body, the trusted Origin.
async fn revoke(h: &Harness, cookie: &str, id: &str) -> Res {
    h.request(
        "POST",
        &format!("/auth/sessions/{id}/revoke"),
        vec![],
        None,
        Some(cookie),
        vec![("origin", TRUSTED_ORIGIN)],
    )
    .await
}

async fn activity(h: &Harness, cookie: &str, query: &str) -> Res {
    h.get(&format!("/auth/activity{query}"), Some(cookie)).await
}

/// Every activity entry, in one page of the largest size.
async fn all_activity(h: &Harness, cookie: &str) -> Vec<Value> {
    let res = activity(h, cookie, "?limit=100").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json["next_cursor"], Value::Null);
    res.json["events"].as_array().unwrap().clone()
}

fn of_type<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

async fn the_list_shows_each_session_with_its_device_and_network_and_marks_the_current_one(
    h: Harness,
) {
    h.sign_up("two-devices@example.com", PASSWORD).await;
    h.wait(10);
    let laptop = sign_in_as(
        &h,
        "198.51.100.23",
        FIREFOX_LINUX,
        "two-devices@example.com",
    )
    .await;
    let signed_in_at = h.now();
    h.wait(60);
    let phone = sign_in_as(&h, "203.0.113.99", CHROME_MAC, "two-devices@example.com").await;
    let (laptop_id, phone_id) = (session_id(&h, &laptop).await, session_id(&h, &phone).await);

    let listed = sessions(&h, &laptop).await;
    // The sign-up's own session is still live too: newest first, the phone, then the laptop.
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed[0],
        json!({
            "id": phone_id,
            "created_at": signed_in_at + 60,
            "last_seen_at": signed_in_at + 60,
            "device": "Chrome on macOS",
            "network": "203.0.113.0/24",
            "current": false,
        })
    );
    assert_eq!(
        listed[1],
        json!({
            "id": laptop_id,
            "created_at": signed_in_at,
            "last_seen_at": signed_in_at,
            "device": "Firefox on Linux",
            "network": "198.51.100.0/24",
            "current": true,
        })
    );
    // The sign-up's session came from the harness's client: no User-Agent, so no device.
    assert_eq!(listed[2]["device"], Value::Null);
    assert_eq!(listed[2]["network"], "203.0.113.0/24");
    // Nothing that could sign anyone in, and no full address.
    let text = h.get("/auth/sessions", Some(&laptop)).await.text;
    for secret in [laptop.split_once('=').unwrap().1, "198.51.100.23", "token"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // The phone sees the same sessions, with itself marked.
    let from_phone = sessions(&h, &phone).await;
    let current: Vec<_> = from_phone.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], phone_id.as_str());

    // Last seen follows the session's renewals (half the idle window apart).
    h.wait(16 * 60);
    assert_eq!(
        h.get("/auth/session", Some(&phone)).await.status,
        StatusCode::OK
    );
    let renewed = sessions(&h, &laptop).await;
    let phone_row = renewed
        .iter()
        .find(|s| s["id"] == phone_id.as_str())
        .unwrap();
    assert_eq!(phone_row["last_seen_at"], h.now());
    assert_eq!(phone_row["created_at"], signed_in_at + 60);
}

async fn a_token_client_lists_and_revokes_with_its_bearer_token(h: Harness) {
    let browser = h
        .sign_up("cli-sessions@example.com", PASSWORD)
        .await
        .cookie();
    h.wait(1);
    let body = json!({
        "email": "cli-sessions@example.com",
        "password": PASSWORD,
        "session_delivery": "token",
    });
    let res = h
        .request(
            "POST",
            "/auth/sign-in",
            body.to_string().into_bytes(),
            Some(JSON),
            None,
            vec![("user-agent", "acme-cli/2.1")],
        )
        .await;
    let token = res.json["session_token"].as_str().unwrap().to_owned();
    let listed = h.get_with_bearer("/auth/sessions", &token).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let rows = listed.json["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["current"], true);
    assert_eq!(rows[0]["device"], "Other");

    // It ends the browser's session, with no Origin (it is not a browser) and no cookie.
    let browser_id = session_id(&h, &browser).await;
    let authorization = format!("Bearer {token}");
    let ended = h
        .request(
            "POST",
            &format!("/auth/sessions/{browser_id}/revoke"),
            vec![],
            None,
            None,
            vec![("authorization", authorization.as_str())],
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    assert_eq!(
        h.get("/auth/session", Some(&browser)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn revoking_another_session_ends_it_and_only_it(h: Harness) {
    let laptop = h
        .sign_up("revoke-other@example.com", PASSWORD)
        .await
        .cookie();
    let phone = sign_in_as(&h, "198.51.100.7", CHROME_MAC, "revoke-other@example.com").await;
    let phone_id = session_id(&h, &phone).await;

    let res = revoke(&h, &laptop, &phone_id).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    assert_eq!(res.text, "");
    assert!(
        res.header("set-cookie").is_none(),
        "ending another session leaves this browser's cookie alone"
    );
    // The phone's cookie no longer signs anything in; the laptop's still does.
    let dead = h.get("/auth/session", Some(&phone)).await;
    assert_eq!(dead.error(), (401, "unauthenticated"));
    assert_eq!(
        h.get("/auth/sessions", Some(&phone)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let left = sessions(&h, &laptop).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);

    // The account's activity says so: session.ended, reason revoked, naming the phone's session.
    let events = all_activity(&h, &laptop).await;
    let ended = of_type(&events, "session.ended");
    assert_eq!(ended.len(), 1, "{events:?}");
    assert_eq!(ended[0]["reason"], "revoked");
    assert_eq!(ended[0]["session_id"], phone_id.as_str());
    assert_eq!(ended[0]["outcome"], "success");
    assert_eq!(events[0], *ended[0], "the newest event comes first");

    // Once ended, the id is no session of the user's: 404, and no second event.
    assert_eq!(
        revoke(&h, &laptop, &phone_id).await.error(),
        (404, "not_found")
    );
    assert_eq!(
        of_type(&all_activity(&h, &laptop).await, "session.ended").len(),
        1
    );
}

async fn revoking_the_current_session_signs_this_browser_out(h: Harness) {
    let cookie = h
        .sign_up("revoke-self@example.com", PASSWORD)
        .await
        .cookie();
    let other = h
        .sign_in("revoke-self@example.com", PASSWORD)
        .await
        .cookie();
    let id = session_id(&h, &cookie).await;
    let res = revoke(&h, &cookie, &id).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let cleared = res.header("set-cookie").expect("the cookie is cleared");
    assert!(
        cleared.starts_with("__Host-authfn_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(
        h.get("/auth/session", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The account's other session carries on, and sees why this one ended.
    let events = all_activity(&h, &other).await;
    assert_eq!(events[0]["event"], "session.ended");
    assert_eq!(events[0]["session_id"], id.as_str());
    assert!(events[0].get("current_session").is_none(), "{}", events[0]);
}

async fn another_users_session_id_is_not_found_and_nothing_ends(h: Harness) {
    let mallory = h.sign_up("mallory@example.com", PASSWORD).await.cookie();
    let victim = h.sign_up("victim@example.com", PASSWORD).await.cookie();
    let victim_id = session_id(&h, &victim).await;

    let theirs = revoke(&h, &mallory, &victim_id).await;
    assert_eq!(theirs.error(), (404, "not_found"));
    // The same answer as for an id that names no session at all: nothing tells them apart.
    let made_up = revoke(&h, &mallory, &SessionId::generate().unwrap().to_string()).await;
    assert_eq!(
        (made_up.status, made_up.text.clone()),
        (theirs.status, theirs.text.clone())
    );
    assert_eq!(
        theirs.json["message"],
        "you have no active session with this id"
    );
    // Nor does a malformed one differ.
    let long = "x".repeat(65);
    for malformed in ["%7Bid%7D", "a.b", long.as_str()] {
        let res = revoke(&h, &mallory, malformed).await;
        assert_eq!(res.text, theirs.text, "{malformed}");
    }

    assert_eq!(
        h.get("/auth/session", Some(&victim)).await.status,
        StatusCode::OK
    );
    assert!(of_type(&all_activity(&h, &victim).await, "session.ended").is_empty());
    assert!(of_type(&all_activity(&h, &mallory).await, "session.ended").is_empty());
    // And the victim's list never shows up in another account's.
    let listed = sessions(&h, &mallory).await;
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0]["id"], victim_id.as_str());
}

/// Asserts that each of the three endpoints answers 401 `unauthenticated` to `cookie`.
async fn refused_everywhere(h: &Harness, cookie: Option<&str>, id: &str, why: &str) {
    let list = h.get("/auth/sessions", cookie).await;
    assert_eq!(list.error(), (401, "unauthenticated"), "{why}");
    let activity = h.get("/auth/activity", cookie).await;
    assert_eq!(activity.error(), (401, "unauthenticated"), "{why}");
    let res = h
        .request(
            "POST",
            &format!("/auth/sessions/{id}/revoke"),
            vec![],
            None,
            cookie,
            vec![("origin", TRUSTED_ORIGIN)],
        )
        .await;
    assert_eq!(res.error(), (401, "unauthenticated"), "{why}");
}

async fn every_endpoint_needs_a_live_session(h: Harness) {
    let cookie = h.sign_up("signed-out@example.com", PASSWORD).await.cookie();
    let id = session_id(&h, &cookie).await;
    refused_everywhere(&h, None, &id, "no cookie").await;
    let res = h
        .post_json("/auth/sign-out", json!({}), Some(&cookie))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    refused_everywhere(&h, Some(&cookie), &id, "a signed-out cookie").await;
    // A correctly signed token for a session that never existed is refused alike.
    let name = cookie.split_once('=').unwrap().0;
    let unknown = format!("{name}={}", h.signed_random_token());
    refused_everywhere(&h, Some(&unknown), &id, "an unknown session").await;
}

async fn a_cross_site_page_cannot_revoke_a_session(h: Harness) {
    let laptop = h
        .sign_up("csrf-revoke@example.com", PASSWORD)
        .await
        .cookie();
    let phone = h
        .sign_in("csrf-revoke@example.com", PASSWORD)
        .await
        .cookie();
    let phone_id = session_id(&h, &phone).await;
    let path = format!("/auth/sessions/{phone_id}/revoke");
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        // A browser that says nothing about where the request came from, with a cookie.
        vec![],
    ] {
        let res = h
            .request("POST", &path, vec![], None, Some(&laptop), headers.clone())
            .await;
        assert_eq!(res.error(), (403, "csrf_rejected"), "{headers:?}");
    }
    assert_eq!(
        h.get("/auth/session", Some(&phone)).await.status,
        StatusCode::OK
    );
    assert!(of_type(&all_activity(&h, &laptop).await, "session.ended").is_empty());
}

async fn revoking_is_rate_limited_per_client(h: Harness) {
    let cookie = h
        .sign_up("revoke-flood@example.com", PASSWORD)
        .await
        .cookie();
    let mut answers = Vec::new();
    for _ in 0..21 {
        let id = SessionId::generate().unwrap().to_string();
        answers.push(revoke(&h, &cookie, &id).await);
    }
    assert!(
        answers[..20]
            .iter()
            .all(|r| r.error() == (404, "not_found"))
    );
    let refused = &answers[20];
    assert_eq!(refused.error(), (429, "rate_limited"));
    assert!(refused.header("retry-after").is_some());
    // Another client's budget is its own.
    let elsewhere = h
        .request_from(
            "198.51.100.44",
            "POST",
            "/auth/sessions/nosuchsession/revoke",
            vec![],
            None,
            Some(&cookie),
            vec![("origin", TRUSTED_ORIGIN)],
        )
        .await;
    assert_eq!(elsewhere.error(), (404, "not_found"));
}

async fn activity_pages_newest_first_without_gaps_or_repeats(h: Harness) {
    let email = "pages@example.com";
    h.sign_up(email, PASSWORD).await;
    h.sign_up("bystander@example.com", PASSWORD).await;
    // Three rounds of wrong passwords, two of each round within one second (entries tied on
    // time), each round after the last one's lockout window: nine failures, never locked.
    for _ in 0..3 {
        for _ in 0..2 {
            assert_eq!(
                h.sign_in(email, "wrong").await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        h.wait(1);
        assert_eq!(
            h.sign_in(email, "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
        // Someone else's failures are theirs alone; an unknown address belongs to no one.
        h.sign_in("bystander@example.com", "wrong").await;
        h.sign_in("nobody@example.com", "wrong").await;
        h.wait(16 * 60);
    }
    let cookie = h.sign_in(email, PASSWORD).await.cookie();
    let other = h.sign_in(email, PASSWORD).await.cookie();
    let other_id = session_id(&h, &other).await;
    assert_eq!(
        revoke(&h, &cookie, &other_id).await.status,
        StatusCode::NO_CONTENT
    );

    let all = all_activity(&h, &cookie).await;
    let failed = of_type(&all, "sign_in.failed");
    assert_eq!(failed.len(), 9, "{all:?}");
    for event in &failed {
        assert_eq!(event["outcome"], "failure");
        assert_eq!(event["method"], "password");
        assert_eq!(event["reason"], "invalid_credentials");
        assert_eq!(event["network"], "203.0.113.0/24");
        for never in ["user_id", "client_ip", "request_id", "endpoint"] {
            assert!(event.get(never).is_none(), "{never} in {event}");
        }
    }
    assert_eq!(all[0]["event"], "session.ended", "newest first");
    // Strictly newest first by (time, id): the order a cursor continues from.
    let keys: Vec<(i64, String)> = all
        .iter()
        .map(|e| {
            (
                e["time"].as_i64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "{keys:?}");

    // Page by page, in pages of two: the same entries, in the same order, none twice, and no
    // cursor after the last page (so "more" never shows an empty page).
    for size in [2, 3, 7] {
        let mut paged: Vec<Value> = Vec::new();
        let mut query = format!("?limit={size}");
        loop {
            let page = activity(&h, &cookie, &query).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            let events = page.json["events"].as_array().unwrap();
            assert!(!events.is_empty() && events.len() <= size);
            paged.extend(events.iter().cloned());
            match page.json["next_cursor"].as_str() {
                Some(cursor) => {
                    assert_eq!(events.len(), size, "a page with a next one is full");
                    query = format!("?limit={size}&cursor={cursor}");
                }
                None => break,
            }
        }
        assert_eq!(paged, all, "pages of {size}");
    }
    let ids: HashSet<_> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());

    // The default page is twenty.
    let default = activity(&h, &cookie, "").await;
    assert_eq!(
        default.json["events"].as_array().unwrap().len(),
        all.len().min(20)
    );

    // The bystander's activity holds only their own failures.
    let bystander = h.sign_in("bystander@example.com", PASSWORD).await.cookie();
    let theirs = all_activity(&h, &bystander).await;
    assert_eq!(of_type(&theirs, "sign_in.failed").len(), 3);
    assert!(of_type(&theirs, "session.ended").is_empty());
}

async fn activity_marks_the_events_of_the_session_asking(h: Harness) {
    let cookie = h.sign_up("marks@example.com", PASSWORD).await.cookie();
    let other = h.sign_in("marks@example.com", PASSWORD).await.cookie();
    let (mine, theirs) = (session_id(&h, &cookie).await, session_id(&h, &other).await);
    let user = UserId::from_stored(user_id(&h, &cookie).await);
    // Until sign-ins record their own events, write two as delivery would.
    let event = |session: &str, second: i64| SecurityEvent {
        id: format!("event{second}"),
        time: UnixTime(h.now() - second),
        event: EventType::SignInSucceeded,
        outcome: EventType::SignInSucceeded.outcome(),
        user_id: Some(user.clone()),
        session_id: Some(SessionId::from_stored(session.to_owned())),
        method: Some(AuthMethod::Password),
        reason: None,
        provider: None,
        client_id: None,
        client_ip: Some("198.51.100.23".into()),
        user_agent: Some("Firefox on Linux".into()),
        endpoint: Some("sign-in".into()),
        request_id: "r".into(),
    };
    let entries: Vec<ActivityEntry> = [event(&mine, 2), event(&theirs, 1)]
        .iter()
        .map(|e| ActivityEntry::of(e).unwrap())
        .collect();
    h.store.add_activity(&entries).await.unwrap();

    let events = all_activity(&h, &cookie).await;
    let by_id = |id: &str| events.iter().find(|e| e["id"] == id).unwrap();
    let (of_mine, of_theirs) = (by_id("event2"), by_id("event1"));
    assert_eq!(of_mine["session_id"], mine.as_str());
    assert_eq!(of_mine["current_session"], true);
    assert!(of_theirs.get("current_session").is_none(), "{of_theirs}");
    assert_eq!(of_mine["device"], "Firefox on Linux");
    assert_eq!(of_mine["network"], "198.51.100.0/24");
    // From the other session, the marks change places.
    let from_other = all_activity(&h, &other).await;
    let marked: Vec<_> = from_other
        .iter()
        .filter(|e| e["current_session"] == true)
        .map(|e| e["session_id"].as_str().unwrap())
        .collect();
    assert!(marked.iter().all(|id| *id == theirs) && !marked.is_empty());
}

async fn a_bad_limit_or_cursor_is_a_clear_400(h: Harness) {
    let cookie = h.sign_up("bad-pages@example.com", PASSWORD).await.cookie();
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=-3", "limit"),
        ("?limit=", "limit"),
        ("?limit=twenty", "limit"),
        ("?limit=99999999999999999999999", "limit"),
        ("?cursor=", "cursor"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?cursor=%FF%FE", "cursor"),
        ("?cursor=MTgwMDAwMDAwMA", "cursor"), // "1800000000": no id
        ("?limit=5&limit=5", "query"),
        ("?cursor=a&cursor=b", "query"),
    ] {
        let res = activity(&h, &cookie, query).await;
        assert_eq!(
            res.error(),
            (400, "invalid_request"),
            "{query}: {}",
            res.text
        );
        let message = res.json["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{query}: {message}"
        );
    }
    // Parameters this endpoint does not read are no error.
    let res = activity(&h, &cookie, "?limit=5&utm_source=mail").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}
