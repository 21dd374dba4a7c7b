//! A user's own sessions and activity over HTTP: list the account's sessions, end another one
//! (its cookie stops working), a 404 for an id that is not one of them, and the activity paged
//! through with its cursor. See `http.rs` for how these run.

use std::collections::HashSet;

use authfn_blackbox::{Api, Auth, Endpoint, Reply, SessionCookie, unique_email};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn api() -> Api {
    Api::from_env()
}

/// A browser's sign-in with this `User-Agent`: the session cookie.
async fn sign_in_with_agent(api: &Api, email: &str, user_agent: &str) -> SessionCookie {
    let req = api
        .request(Method::POST, Endpoint::SignIn, Auth::None)
        .header("user-agent", user_agent)
        .json(&json!({ "email": email, "password": PASSWORD }));
    let reply = api.send(req).await;
    reply.expect_status(200);
    reply.session_cookie()
}

async fn session_id(api: &Api, cookie: &SessionCookie) -> String {
    let reply = api.session(Auth::Cookie(cookie)).await;
    reply.expect_status(200);
    reply.json()["session"]["id"]
        .as_str()
        .expect("a session id")
        .to_owned()
}

async fn sessions(api: &Api, cookie: &SessionCookie) -> Vec<Value> {
    let reply = api.get(Endpoint::Sessions, Auth::Cookie(cookie)).await;
    reply.expect_status(200);
    reply.json()["sessions"]
        .as_array()
        .expect("a sessions array")
        .clone()
}

/// `POST /auth/sessions/{id}/revoke` from a page of the trusted origin.
async fn revoke(api: &Api, cookie: &SessionCookie, id: &str) -> Reply {
    let url = api.target.url_with(Endpoint::SessionRevoke, id);
    let req = api
        .request_to(Method::POST, url, Auth::Cookie(cookie))
        .header("origin", api.trusted_origin());
    api.send(req).await
}

async fn activity(api: &Api, cookie: &SessionCookie, query: &[(&str, &str)]) -> Reply {
    api.get_query(Endpoint::Activity, Auth::Cookie(cookie), query)
        .await
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn a_user_sees_their_sessions_and_ends_another_one() {
    let api = api();
    let email = unique_email("sessions");
    let laptop = api.signed_up(&email, PASSWORD).await;
    let phone = sign_in_with_agent(&api, &email, FIREFOX_LINUX).await;
    let (laptop_id, phone_id) = (
        session_id(&api, &laptop).await,
        session_id(&api, &phone).await,
    );

    let listed = sessions(&api, &laptop).await;
    let row = |id: &str| {
        listed
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("session {id} not listed: {listed:?}"))
            .clone()
    };
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(row(&laptop_id)["current"], true);
    assert_eq!(row(&phone_id)["current"], false);
    assert_eq!(row(&phone_id)["device"], "Firefox on Linux");
    for session in &listed {
        for field in ["created_at", "last_seen_at"] {
            assert!(session[field].as_i64().is_some(), "{field}: {session}");
        }
        assert!(
            session["network"].is_string() || session["network"].is_null(),
            "{session}"
        );
    }

    let ended = revoke(&api, &laptop, &phone_id).await;
    ended.expect_status(204);
    assert!(ended.set_cookies().is_empty(), "{:?}", ended.set_cookies());
    api.session(Auth::Cookie(&phone))
        .await
        .expect_error(401, "unauthenticated");
    api.session(Auth::Cookie(&laptop)).await.expect_status(200);
    let left = sessions(&api, &laptop).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], laptop_id.as_str());

    // The account's activity tells why the phone's session ended.
    let page = activity(&api, &laptop, &[("limit", "100")]).await;
    page.expect_status(200);
    let events = page.json()["events"].as_array().expect("events").clone();
    let ended: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "session.ended")
        .collect();
    assert_eq!(ended.len(), 1, "{events:?}");
    assert_eq!(ended[0]["reason"], "revoked");
    assert_eq!(ended[0]["session_id"], phone_id.as_str());
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn an_id_that_is_not_one_of_the_users_sessions_is_not_found() {
    let api = api();
    let mine = api.signed_up(&unique_email("mine"), PASSWORD).await;
    let theirs = api.signed_up(&unique_email("theirs"), PASSWORD).await;
    let their_id = session_id(&api, &theirs).await;

    revoke(&api, &mine, &their_id)
        .await
        .expect_error(404, "not_found");
    revoke(&api, &mine, "AAAAAAAAAAAAAAAAAAAAAA")
        .await
        .expect_error(404, "not_found");
    api.session(Auth::Cookie(&theirs)).await.expect_status(200);
    // Signed out, there is nothing to list, end or read.
    let url = api.target.url_with(Endpoint::SessionRevoke, &their_id);
    let anonymous = api
        .send(api.request_to(Method::POST, url, Auth::None))
        .await;
    anonymous.expect_error(401, "unauthenticated");
    api.get(Endpoint::Sessions, Auth::None)
        .await
        .expect_error(401, "unauthenticated");
    api.get(Endpoint::Activity, Auth::None)
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
#[ignore = "needs a running authfn: set AUTHFN_BASE_URL (tests/run.sh does)"]
async fn activity_pages_newest_first_through_its_cursor() {
    let api = api();
    let email = unique_email("activity");
    let cookie = api.signed_up(&email, PASSWORD).await;
    // Three wrong passwords (below any lockout), then another session ended from this one.
    for _ in 0..3 {
        api.sign_in(&email, "not the password")
            .await
            .expect_error(401, "invalid_credentials");
    }
    let other = sign_in_with_agent(&api, &email, FIREFOX_LINUX).await;
    let other_id = session_id(&api, &other).await;
    revoke(&api, &cookie, &other_id).await.expect_status(204);

    let whole = activity(&api, &cookie, &[("limit", "100")]).await;
    whole.expect_status(200);
    let whole = whole.json();
    assert_eq!(whole["next_cursor"], Value::Null);
    let all = whole["events"].as_array().expect("events").clone();
    assert_eq!(all[0]["event"], "session.ended", "newest first: {all:?}");
    let failed = all
        .iter()
        .filter(|e| e["event"] == "sign_in.failed")
        .count();
    assert_eq!(failed, 3, "{all:?}");
    let times: Vec<i64> = all
        .iter()
        .map(|e| e["time"].as_i64().expect("time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    let mut paged: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..all.len() {
        let mut query = vec![("limit", "2")];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let page = activity(&api, &cookie, &query).await;
        page.expect_status(200);
        let page = page.json();
        paged.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all, "the pages hold every entry once, in order");
    let ids: HashSet<_> = paged.iter().map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), paged.len());

    activity(&api, &cookie, &[("cursor", "not-a-cursor")])
        .await
        .expect_error(400, "invalid_request");
    activity(&api, &cookie, &[("limit", "0")])
        .await
        .expect_error(400, "invalid_request");
}
