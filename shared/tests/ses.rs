//! [`SesMailer`] against a local SES v2 API (moto's, the server the DynamoDB tests use): a mail
//! it sends is read back from the server, and an outage or a refusal is `Unavailable`.
//!
//! The cases that need the server are ignored by default; `tests/run.sh` starts it and runs
//! them (`AUTHFN_TEST_DYNAMODB_ENDPOINT`).

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
use std::time::{Duration, Instant};

use authfn::email::Email;
use authfn::mail::{Mail, MailError, Mailer};
use authfn::ses::{MailFrom, SesMailer};
use authfn_blackbox::{Mailbox, random_hex};
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};

/// The local server: DynamoDB and SES on one port.
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

/// A domain of its own per test, verified in the local SES, and a From address on it.
async fn verified_sender(server: &str) -> MailFrom {
    let domain = format!("ses-{}.example.org", random_hex());
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = local_aws()
        .http_client(http)
        .endpoint_url(server)
        .load()
        .await;
    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .unwrap();
    MailFrom::parse(&format!("Example <no-reply@{domain}>")).unwrap()
}

fn mail_to(to: &str) -> Mail {
    Mail {
        to: Email::parse(to).unwrap(),
        subject: "Verify your address".into(),
        text: "Open https://app.example/#/verify-email?token=abc or type 123456.".into(),
        html: "<p>Open <a href=\"https://app.example/#/verify-email?token=abc\">the link</a> or type 123456.</p>".into(),
    }
}

#[tokio::test]
#[ignore = "needs a local SES API: run tests/run.sh"]
async fn a_mail_ses_accepted_arrives_with_its_subject_text_and_html() {
    let server = local_server();
    let mailer = SesMailer::connect_with(
        local_aws(),
        verified_sender(&server).await,
        Some(server.clone()),
    )
    .await;
    let to = format!("ada-{}@example.com", random_hex());

    mailer.send(&mail_to(&to)).await.unwrap();

    let arrived = Mailbox::moto_ses(&server).latest_to(&to).await;
    let sent = mail_to(&to);
    assert_eq!(
        (
            arrived.to.as_str(),
            arrived.subject.as_str(),
            arrived.text.as_str(),
            arrived.html.as_str()
        ),
        (
            to.as_str(),
            sent.subject.as_str(),
            sent.text.as_str(),
            sent.html.as_str()
        )
    );
}

#[tokio::test]
#[ignore = "needs a local SES API: run tests/run.sh"]
async fn a_from_address_on_no_verified_identity_is_unavailable_and_nothing_arrives() {
    let server = local_server();
    let unverified =
        MailFrom::parse(&format!("no-reply@unverified-{}.example.org", random_hex())).unwrap();
    let mailer = SesMailer::connect_with(local_aws(), unverified, Some(server.clone())).await;
    let to = format!("ada-{}@example.com", random_hex());

    let refused = mailer.send(&mail_to(&to)).await;

    assert_unavailable(refused, &to);
    assert!(Mailbox::moto_ses(&server).messages_to(&to).await.is_empty());
}

/// SES unreachable: the send fails within seconds, not at the function's own timeout.
#[tokio::test]
async fn ses_refusing_connections_is_unavailable_quickly() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let from = MailFrom::parse("no-reply@example.org").unwrap();
    let mailer = SesMailer::connect_with(
        local_aws(),
        from,
        Some(format!("http://127.0.0.1:{closed_port}")),
    )
    .await;
    let to = "outage@example.com";

    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), mailer.send(&mail_to(to)))
        .await
        .expect("the send hung");

    assert_unavailable(result, to);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// `Unavailable`, and the cause chain the log gets quotes neither the recipient nor the body.
fn assert_unavailable(result: Result<(), MailError>, to: &str) {
    match result {
        Err(e @ MailError::Unavailable(_)) => {
            let logged = authfn::error::chain(&e);
            assert!(
                !logged.contains(to) && !logged.contains("123456"),
                "the error quotes the mail: {logged}"
            );
        }
        other => panic!("the send gave {other:?}, not Unavailable"),
    }
}
