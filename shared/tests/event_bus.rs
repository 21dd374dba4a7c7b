//! The EventBridge event bus ([`EventBridgeBus`]) with the real SDK client: events it puts are
//! read back from a local EventBridge API (moto's, the server the DynamoDB tests use) through an
//! archive of the bus; a bus that cannot be reached, or that refuses entries, is a failure; and
//! through [`App`], such a failure never fails the user's request and is logged.
//!
//! The cases that need the server are ignored by default; `tests/run.sh` starts it and runs
//! them (`AUTHFN_TEST_DYNAMODB_ENDPOINT`).

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use authfn::clock::UnixTime;
use authfn::events::eventbridge::{EventBridgeBus, EventBusName};
use authfn::events::{AuthMethod, EventBus, EventType, SecurityEvent, log_lines};
use authfn::request::ClientIp;
use authfn::settings::Settings;
use authfn::store::MemoryStore;
use authfn::{App, Config, Endpoint};
use authfn_blackbox::{EventBusReader, random_hex};
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use serde_json::Value;

/// The local server: DynamoDB, SES and EventBridge on one port.
fn local_server() -> String {
    std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT")
        .expect("AUTHFN_TEST_DYNAMODB_ENDPOINT is unset: run tests/run.sh, or source tests/support/dynamodb-api.sh and run start_dynamodb_api")
}

/// Fixed region and dummy credentials, so the SDK never looks for real ones.
fn local_aws() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "authfn-tests",
        ))
}

fn bus_name(name: &str) -> EventBusName {
    let name = name.to_owned();
    let lookup = move |setting: &str| (setting == EventBusName::SETTING).then(|| name.clone());
    EventBusName::from_settings(&Settings::new(&lookup))
        .unwrap()
        .unwrap()
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn event(kind: EventType, n: usize) -> SecurityEvent {
    SecurityEvent {
        id: format!("event-{n}-{}", random_hex()),
        time: UnixTime(1_800_000_000 + i64::try_from(n).unwrap()),
        event: kind,
        outcome: kind.outcome(),
        user_id: None,
        session_id: None,
        method: Some(AuthMethod::Password),
        reason: Some("invalid_credentials".into()),
        provider: None,
        client_id: Some("cli".into()),
        client_ip: Some("203.0.113.9".into()),
        user_agent: Some("Firefox on Linux".into()),
        endpoint: Some("sign-in".into()),
        request_id: "r1".into(),
    }
}

/// A bus in the local EventBridge with an archive of everything authfn puts on it (as
/// tests/support/dynamodb-api.sh's `event_bus_with_archive` makes for the Lambda stage).
async fn bus_with_archive(server: &str) -> String {
    let bus = format!("event-bus-test-{}", random_hex());
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = local_aws()
        .http_client(http)
        .endpoint_url(server)
        .load()
        .await;
    let client = aws_sdk_eventbridge::Client::new(&config);
    let arn = client
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_owned();
    client
        .create_archive()
        .archive_name(&bus)
        .event_source_arn(arn)
        .event_pattern(r#"{"source":["authfn"]}"#)
        .send()
        .await
        .unwrap();
    bus
}

#[tokio::test]
#[ignore = "needs a local EventBridge API: run tests/run.sh"]
async fn events_put_on_the_bus_arrive_in_order_with_source_type_and_detail() {
    let server = local_server();
    let archive = bus_with_archive(&server).await;
    let bus =
        EventBridgeBus::connect_with(local_aws(), bus_name(&archive), Some(server.clone())).await;
    // More than one PutEvents call's worth (10 entries).
    let events: Vec<SecurityEvent> = (0..12)
        .map(|n| {
            let kind = if n % 2 == 0 {
                EventType::SignInFailed
            } else {
                EventType::RefreshReuseDetected
            };
            event(kind, n)
        })
        .collect();

    bus.publish(&events).await.unwrap();

    let arrived = EventBusReader::eventbridge_archive(&server, &archive)
        .received()
        .await;
    assert_eq!(arrived.len(), events.len(), "{arrived:#?}");
    // The reader checks each entry's source (authfn) and detail-type (the event's name).
    for (detail, sent) in arrived.iter().zip(&events) {
        assert_eq!(*detail, serde_json::to_value(sent).unwrap());
    }
}

#[tokio::test]
#[ignore = "needs a local EventBridge API: run tests/run.sh"]
async fn a_bus_that_does_not_exist_is_a_failure_naming_the_error_code() {
    let server = local_server();
    let missing = format!("no-such-bus-{}", random_hex());
    let bus = EventBridgeBus::connect_with(local_aws(), bus_name(&missing), Some(server)).await;

    let refused = bus.publish(&[event(EventType::SignInFailed, 0)]).await;

    let cause = refused.unwrap_err().to_string();
    assert!(
        cause.contains("EventBridge PutEvents: refused, error ResourceNotFoundException"),
        "{cause}"
    );
}

/// A bus that answers 200 but refuses an entry (`FailedEntryCount`), as EventBridge does under
/// throttling: a failure, not a success. A one-shot HTTP server gives that answer.
#[tokio::test]
async fn entries_the_bus_refuses_in_a_successful_call_are_a_failure() {
    let body = r#"{"FailedEntryCount":1,"Entries":[{"ErrorCode":"ThrottlingException","ErrorMessage":"Rate exceeded"}]}"#;
    let (url, server) = authfn_blackbox::one_shot::serve_once(authfn_blackbox::one_shot::answer(
        "200 OK",
        "content-type: application/x-amz-json-1.1\r\n",
        body.as_bytes(),
    ))
    .await;
    let bus =
        EventBridgeBus::connect_with(local_aws(), bus_name("authfn-security"), Some(url)).await;

    let refused = bus.publish(&[event(EventType::SignInFailed, 0)]).await;

    assert_eq!(
        refused.unwrap_err().to_string(),
        "EventBridge PutEvents: 1 of 1 entries refused, error ThrottlingException"
    );
    let request = server.await.unwrap();
    assert!(
        request.contains("AWSEvents.PutEvents")
            && request.contains("\"EventBusName\":\"authfn-security\""),
        "{request}"
    );
}

/// The bus down: the user's request is answered as it would be without one, within the bus
/// client's few seconds, and the failure is logged next to the event (without its contents).
#[tokio::test]
async fn an_unreachable_bus_never_fails_the_request_and_is_logged() {
    let bus = EventBridgeBus::connect_with(
        local_aws(),
        bus_name("authfn-security"),
        Some(format!("http://127.0.0.1:{}", closed_port())),
    )
    .await;
    let settings = |name: &str| match name {
        "AUTHFN_SESSION_KEYS" => Some("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE".to_owned()),
        "AUTHFN_TRUSTED_ORIGINS" => Some("https://app.example.com".to_owned()),
        "AUTHFN_ARGON2_MEMORY_KIB" => Some("256".to_owned()),
        "AUTHFN_ARGON2_ITERATIONS" => Some("1".to_owned()),
        _ => None,
    };
    let app = App::new(
        Config::from_lookup(settings).unwrap(),
        Arc::new(MemoryStore::new()),
    )
    .unwrap()
    .with_event_bus(Arc::new(bus));
    let email = format!("nobody-{}@example.com", random_hex());
    let body = serde_json::json!({"email": email, "password": "wrong horse battery"});
    let mut req = http::Request::builder()
        .method("POST")
        .uri("https://api.example.com/auth/sign-in")
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body.to_string()))
        .unwrap();
    req.extensions_mut().insert(ClientIp("203.0.113.9".into()));

    let started = Instant::now();
    let res = app.handle(Endpoint::SignIn, req).await;

    assert_eq!(res.status(), 401, "answered as without a bus");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let lines: Vec<Value> = log_lines(&res)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["log"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["security_event", "event_delivery_failed"],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["event"], "sign_in.failed");
    let failure = &lines[1];
    assert_eq!(failure["level"], "ERROR");
    let cause = failure["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("event bus: EventBridge PutEvents: could not connect"),
        "{cause}"
    );
    let logged = serde_json::to_string(&lines).unwrap();
    assert!(
        !logged.contains(&email) && !logged.contains("wrong horse"),
        "{logged}"
    );
}
