//! Security events as an operator receives them, on every runtime: a user's journey leaves
//! exactly its expected events in the server's log, in order; the deployment's event bus (if it
//! has one: EventBridge on Lambda, a Cloudflare Queue on Workers) receives the same events; and
//! no line the journey caused holds a password, a token, a cookie, a mailed code or an address
//! it used.
//!
//! The log is the server's own output (`AUTHFN_TEST_SERVER_LOG`), the bus is read back where it
//! delivers (see `authfn_blackbox::server_log`). The expected lists follow the README's event
//! table ("Security events"): one list per journey, to adjust with the table.

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
use std::time::Duration;

use authfn_blackbox::server_log::{bus_form, json_lines, security_events};
use authfn_blackbox::{
    Api, Auth, Endpoint, EventBusReader, LogMark, Mailbox, Reply, ServerLog, unique_email,
};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
const WRONG_PASSWORD: &str = "incorrect horse battery";
const CLIENT: &str = "cli";

/// One expected event: its name and the fields it must carry, `"*"` meaning present with any
/// value. Every event of a journey also names the journey's user.
struct Expect(&'static str, &'static [(&'static str, &'static str)]);

/// The password journey (see [`a_journey_leaves_exactly_its_events_in_the_log_and_on_the_bus`]).
const PASSWORD_JOURNEY: &[Expect] = &[
    // Sign-up, proven by the mailed link: the account, its address, its first session.
    Expect("sign_up", &[("method", "password")]),
    Expect("email.verified", &[]),
    Expect(
        "sign_in.succeeded",
        &[("method", "email_verification"), ("session_id", "*")],
    ),
    // A wrong password, then the right one.
    Expect(
        "sign_in.failed",
        &[("method", "password"), ("reason", "invalid_credentials")],
    ),
    Expect(
        "sign_in.succeeded",
        &[("method", "password"), ("session_id", "*")],
    ),
    // A CLI signs in with the device flow, refreshes, and its old refresh token is replayed.
    Expect("device_code.approved", &[("client_id", CLIENT)]),
    Expect(
        "tokens.issued",
        &[("client_id", CLIENT), ("method", "device_code")],
    ),
    Expect("refresh.rotated", &[("client_id", CLIENT)]),
    Expect("refresh.reuse_detected", &[("client_id", CLIENT)]),
    // The browser signs out.
    Expect(
        "session.ended",
        &[("reason", "sign_out"), ("session_id", "*")],
    ),
];

/// A journey under way: what it sent and received that must never be logged, and where the
/// log stood when it began.
struct Journey {
    api: Api,
    log: ServerLog,
    mark: LogMark,
    secrets: Vec<(&'static str, String)>,
}

impl Journey {
    fn begin() -> Journey {
        let log = ServerLog::from_env();
        let mark = log.mark();
        Journey {
            api: Api::from_env(),
            log,
            mark,
            secrets: Vec::new(),
        }
    }

    fn secret(&mut self, what: &'static str, value: impl Into<String>) {
        let value = value.into();
        // Shorter values (a six-digit code) are checked too: they are the journey's own.
        if !value.is_empty() {
            self.secrets.push((what, value));
        }
    }

    /// `reply`, keeping every cookie value it set as a secret.
    fn seen(&mut self, reply: Reply) -> Reply {
        for cookie in reply.set_cookies() {
            let value = cookie
                .split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
                .map(|(_, v)| v.to_owned())
                .unwrap_or_default();
            self.secret("a cookie value", value);
        }
        reply
    }

    /// An address of its own, kept as a secret with its local part (unique to this run).
    fn email(&mut self, tag: &str) -> String {
        let email = unique_email(tag);
        self.secret("an email address", email.clone());
        self.secret(
            "an address's local part",
            email.split('@').next().unwrap().to_owned(),
        );
        email
    }

    /// Signs up with `email` and proves it with the mailed link; returns the user id and the
    /// verify reply (with its session).
    async fn sign_up(&mut self, email: &str) -> (String, Reply) {
        self.secret("the password", PASSWORD);
        let asked = self
            .api
            .post_json(
                Endpoint::SignUp,
                &serde_json::json!({"email": email, "password": PASSWORD}),
            )
            .await;
        let asked = self.seen(asked);
        asked.expect_status(202);
        let mail = Mailbox::for_target().latest_to(email).await;
        let token = mail.link_token().expect("the sign-up mail has a link");
        self.secret("the mailed link's token", token.clone());
        if let Some(code) = mail.code() {
            self.secret("the mailed code", code);
        }
        let verified = self
            .api
            .post_json(
                Endpoint::VerifyEmail,
                &serde_json::json!({ "token": token }),
            )
            .await;
        let verified = self.seen(verified);
        verified.expect_status(200);
        let user = verified.json()["user_id"].as_str().unwrap().to_owned();
        (user, verified)
    }

    /// Everything the server logged since the journey began.
    fn logged(&self) -> String {
        self.log.since(self.mark)
    }

    /// The security events logged for `user` since the journey began, once there are at least
    /// `count` or a few seconds have passed (then fewer, for the comparison to show).
    async fn events_of(&self, user: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mine: Vec<Value> = security_events(&self.logged())
                .into_iter()
                .filter(|e| e["user_id"] == user)
                .collect();
            if mine.len() >= count || tokio::time::Instant::now() >= deadline {
                return mine;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// No line the journey caused holds one of its secrets. The dev server prints each mail
    /// to its terminal by design (its mailbox, not its log): those blocks are left out.
    fn assert_nothing_secret_logged(&self) {
        let logged = without_dev_mail(&self.logged());
        for line in logged.lines() {
            for (what, value) in &self.secrets {
                assert!(
                    !line.contains(value.as_str()),
                    "the log holds {what} ({value}) in:\n{line}"
                );
            }
        }
    }
}

/// `log` without the dev server's printed mails (from `authfn-dev: mail to` to `(also at GET
/// /dev/mailbox)`, dev-server/src/mailbox.rs).
fn without_dev_mail(log: &str) -> String {
    let mut kept = String::new();
    let mut in_mail = false;
    for line in log.lines() {
        if line.starts_with("authfn-dev: mail to ") {
            in_mail = true;
        }
        if !in_mail {
            kept.push_str(line);
            kept.push('\n');
        }
        if in_mail && line == "(also at GET /dev/mailbox)" {
            in_mail = false;
        }
    }
    kept
}

/// `events` are `expected`, in order: the same names, each with its fields.
#[track_caller]
fn assert_events(events: &[Value], user: &str, expected: &[Expect]) {
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let wanted: Vec<&str> = expected.iter().map(|e| e.0).collect();
    assert_eq!(names, wanted, "the user's events, in order: {events:#?}");
    for (event, Expect(name, fields)) in events.iter().zip(expected) {
        assert_eq!(event["user_id"], user, "{name}: {event}");
        for (field, value) in *fields {
            match *value {
                "*" => assert!(event[*field].is_string(), "{name} has no {field}: {event}"),
                value => assert_eq!(event[*field], value, "{name}.{field}: {event}"),
            }
        }
        assert_well_formed(event);
    }
}

/// What every security event carries, whatever its type.
#[track_caller]
fn assert_well_formed(event: &Value) {
    assert_eq!(event["log"], "security_event");
    let failure = event["outcome"] == "failure";
    assert!(failure || event["outcome"] == "success", "{event}");
    assert_eq!(
        event["level"],
        if failure { "WARN" } else { "INFO" },
        "{event}"
    );
    for field in ["id", "request_id"] {
        assert!(
            event[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {event}"
        );
    }
    assert!(event["time"].is_i64(), "{event}");
    let endpoint = event["endpoint"].as_str().unwrap_or_default();
    assert!(
        Endpoint::ALL.iter().any(|e| e.function_name() == endpoint),
        "endpoint {endpoint:?}: {event}"
    );
    if let Some(ip) = event["client_ip"].as_str() {
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{event}");
    }
}

/// The bus (if the deployment has one) received exactly these events: the same ids, each
/// with the same content as its log line.
async fn assert_published(events: &[Value]) {
    let Some(bus) = EventBusReader::from_env() else {
        eprintln!("this deployment has no event bus: only the log is checked");
        return;
    };
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let received = bus.wait_for(&ids).await;
    assert_eq!(
        received.len(),
        events.len(),
        "{} received an event more than once: {received:#?}",
        bus.describe()
    );
    for logged in events {
        let published = received.iter().find(|e| e["id"] == logged["id"]).unwrap();
        assert_eq!(*published, bus_form(logged), "{}", bus.describe());
    }
}

async fn refresh(api: &Api, token: &str) -> Reply {
    api.post_form(
        Endpoint::Token,
        Auth::None,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT),
        ],
    )
    .await
}

/// The journey of one password user through sign-up, a wrong password, sign-in, a CLI's
/// device flow with a replayed refresh token, and sign-out.
#[tokio::test]
#[ignore = "needs a running authfn and its log (tests/run.sh)"]
async fn a_journey_leaves_exactly_its_events_in_the_log_and_on_the_bus() {
    let mut journey = Journey::begin();
    let api = journey.api.clone();
    let email = journey.email("events");
    let (user, _) = journey.sign_up(&email).await;

    journey.secret("the wrong password", WRONG_PASSWORD);
    let wrong = api.sign_in(&email, WRONG_PASSWORD).await;
    journey.seen(wrong).expect_error(401, "invalid_credentials");
    let signed_in = api.sign_in(&email, PASSWORD).await;
    let signed_in = journey.seen(signed_in);
    signed_in.expect_status(200);
    let cookie = signed_in.session_cookie();

    // The CLI's device flow, approved in the browser.
    let authorized = api
        .post_form(
            Endpoint::DeviceAuthorize,
            Auth::None,
            None,
            &[("client_id", CLIENT), ("scope", "openid offline_access")],
        )
        .await;
    authorized.expect_status(200);
    let authorized = authorized.json();
    let (device_code, user_code) = (
        authorized["device_code"].as_str().unwrap(),
        authorized["user_code"].as_str().unwrap(),
    );
    journey.secret("the device code", device_code);
    journey.secret("the user code", user_code);
    let origin = api.trusted_origin().to_owned();
    let approved = api
        .post_form(
            Endpoint::DeviceVerify,
            Auth::Cookie(&cookie),
            Some(&origin),
            &[("user_code", user_code), ("decision", "approve")],
        )
        .await;
    journey.seen(approved).expect_status(200);
    let tokens = api
        .post_form(
            Endpoint::Token,
            Auth::None,
            None,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", CLIENT),
            ],
        )
        .await;
    tokens.expect_status(200);
    let tokens = tokens.json();
    for token in ["access_token", "refresh_token", "id_token"] {
        journey.secret("a token", tokens[token].as_str().unwrap());
    }
    let first = tokens["refresh_token"].as_str().unwrap();
    let rotated = refresh(&api, first).await;
    rotated.expect_status(200);
    let rotated = rotated.json();
    for token in ["access_token", "refresh_token", "id_token"] {
        journey.secret("a token", rotated[token].as_str().unwrap());
    }
    // The first refresh token, stolen and replayed: the family is revoked.
    refresh(&api, first)
        .await
        .expect_error(400, "invalid_grant");

    let signed_out = api
        .browser_post(Endpoint::SignOut, &cookie, &origin, None)
        .await;
    journey.seen(signed_out).expect_status(204);

    let events = journey.events_of(&user, PASSWORD_JOURNEY.len()).await;
    // Give a late, unexpected event the time to show before the exact comparison.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = journey.events_of(&user, events.len()).await;
    assert_events(&events, &user, PASSWORD_JOURNEY);
    // The sign-in's session is the one signed out; the sign-up's is another.
    assert_eq!(events[4]["session_id"], events[9]["session_id"]);
    assert_ne!(events[2]["session_id"], events[4]["session_id"]);
    journey.assert_nothing_secret_logged();
    // Every event reached every destination: the user's activity, and the bus if any.
    let failures: Vec<Value> = json_lines(&journey.logged())
        .into_iter()
        .filter(|line| line["log"] == "event_delivery_failed")
        .collect();
    assert!(failures.is_empty(), "deliveries failed: {failures:#?}");
    assert_published(&events).await;
}

/// A wrong password: one `sign_in.failed` for the account, on its own request's access line
/// (where the runtime logs JSON), and on the bus; neither the address nor the password in the
/// log.
#[tokio::test]
#[ignore = "needs a running authfn and its log (tests/run.sh)"]
async fn a_wrong_password_is_logged_and_published_without_the_address_or_password() {
    let mut journey = Journey::begin();
    let api = journey.api.clone();
    let email = journey.email("wrong-password");
    let (user, _) = journey.sign_up(&email).await;

    journey.secret("the wrong password", WRONG_PASSWORD);
    let refused = api.sign_in(&email, WRONG_PASSWORD).await;
    journey
        .seen(refused)
        .expect_error(401, "invalid_credentials");

    // The sign-in's events: a runtime may relay the sign-up's lines after its answer, so they
    // are told apart by endpoint, not by where the log stood.
    let events = journey
        .log
        .wait_for(journey.mark, |text| {
            let mine: Vec<Value> = security_events(text)
                .into_iter()
                .filter(|e| e["user_id"] == user.as_str() && e["endpoint"] == "sign-in")
                .collect();
            (!mine.is_empty()).then_some(mine)
        })
        .await;
    assert_events(
        &events,
        &user,
        &[Expect(
            "sign_in.failed",
            &[
                ("method", "password"),
                ("reason", "invalid_credentials"),
                ("outcome", "failure"),
                ("endpoint", "sign-in"),
            ],
        )],
    );
    // Where the access lines are JSON (Lambda, Workers; the dev server's are for a person),
    // the event names its request: the sign-in's 401.
    let access: Vec<Value> = json_lines(&journey.logged())
        .into_iter()
        .filter(|line| line.get("status").is_some() && line.get("request_id").is_some())
        .collect();
    if !access.is_empty() {
        let line = access
            .iter()
            .find(|line| line["request_id"] == events[0]["request_id"])
            .unwrap_or_else(|| panic!("no access line for {}: {access:#?}", events[0]));
        assert_eq!(
            (line["endpoint"].as_str(), line["status"].as_u64()),
            (Some("sign-in"), Some(401))
        );
    }
    journey.assert_nothing_secret_logged();
    assert_published(&events).await;
}

/// An address with no account: the failure is still an event, without a user (there is none)
/// and without the address.
#[tokio::test]
#[ignore = "needs a running authfn and its log (tests/run.sh)"]
async fn an_unknown_address_failing_to_sign_in_is_logged_without_the_address() {
    let mut journey = Journey::begin();
    let api = journey.api.clone();
    let email = journey.email("unknown");
    journey.secret("the wrong password", WRONG_PASSWORD);

    let refused = api.sign_in(&email, WRONG_PASSWORD).await;
    journey
        .seen(refused)
        .expect_error(401, "invalid_credentials");

    // The only user-less sign-in failure of this test file.
    let event = journey
        .log
        .wait_for(journey.mark, |text| {
            security_events(text)
                .into_iter()
                .find(|e| e["event"] == "sign_in.failed" && e.get("user_id").is_none())
        })
        .await;
    assert_eq!(event["reason"], "invalid_credentials");
    assert_well_formed(&event);
    journey.assert_nothing_secret_logged();
    assert_published(std::slice::from_ref(&event)).await;
}
