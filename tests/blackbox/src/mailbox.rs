//! The mails the deployment under test sent, read back from where they went: a test never
//! assumes a mail was sent, it reads it.
//!
//! | deployment | where its mail goes | how it is read |
//! |---|---|---|
//! | dev server | its outbox | `GET {AUTHFN_BASE_URL}/dev/mailbox` |
//! | Lambda functions, the Worker | moto's SES v2, at `AUTHFN_TEST_SES_URL` | `GET {AUTHFN_TEST_SES_URL}/moto-api/data.json` |
//!
//! `AUTHFN_TEST_SES_URL` set means the deployment sends through moto's SES (`tests/run.sh`
//! sets it for the Lambda and workerd stages); unset, the mailbox is the dev server's.
//! `tests/support/dynamodb_api_server.py` keeps each message's text and HTML bodies (moto
//! alone keeps one of them).

use std::time::Duration;

use serde_json::Value;

/// How long [`Mailbox::latest_to`] waits for a mail: sending happens before the answer, so
/// this only covers a slow provider stand-in.
const ARRIVAL_WAIT: Duration = Duration::from_secs(5);
const POLL_EVERY: Duration = Duration::from_millis(100);

/// One mail as it was handed to the mail provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl Mail {
    /// The `token=` value in the fragment of the first link in the text that has one
    /// (`https://app.example/#/verify-email?token=…`): what the SPA would POST.
    pub fn link_token(&self) -> Option<String> {
        self.text.split_whitespace().find_map(fragment_token)
    }

    /// The six-digit code in the text: the first run of exactly six digits standing alone.
    pub fn code(&self) -> Option<String> {
        let bytes = self.text.as_bytes();
        let standalone = |i: usize| {
            bytes
                .get(i)
                .is_none_or(|b| !b.is_ascii_alphanumeric() && !b"-_".contains(b))
        };
        (0..bytes.len().saturating_sub(5)).find_map(|start| {
            let run = bytes.get(start..start + 6)?;
            let alone = (start == 0 || standalone(start - 1)) && standalone(start + 6);
            (alone && run.iter().all(u8::is_ascii_digit))
                .then(|| String::from_utf8_lossy(run).into_owned())
        })
    }
}

/// The value of `token=` in `word`'s URL fragment, if it has one.
fn fragment_token(word: &str) -> Option<String> {
    let (_, fragment) = word.split_once('#')?;
    fragment.split(['?', '&', '/']).find_map(|part| {
        let value = part.strip_prefix("token=")?;
        let token: String = value
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
            .collect();
        (!token.is_empty()).then_some(token)
    })
}

/// Where the deployment's mail can be read.
#[derive(Debug, Clone)]
enum Source {
    /// The dev server's `GET /dev/mailbox`.
    DevServer { url: String },
    /// moto's model dump, whose `ses.Message` list holds every message SES accepted.
    MotoSes { url: String },
}

/// The sent mail of the deployment under test.
#[derive(Debug, Clone)]
pub struct Mailbox {
    http: reqwest::Client,
    source: Source,
}

impl Mailbox {
    /// The mailbox of the deployment the environment names (see the crate docs), panicking
    /// with what to set when it cannot tell.
    pub fn for_target() -> Mailbox {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let source = if let Some(ses) = var("AUTHFN_TEST_SES_URL") {
            Source::MotoSes {
                url: format!("{}/moto-api/data.json", ses.trim_end_matches('/')),
            }
        } else {
            let base = var("AUTHFN_BASE_URL").unwrap_or_else(|| {
                panic!(
                    "neither AUTHFN_TEST_SES_URL (moto's SES, for Lambda and workerd) nor AUTHFN_BASE_URL \
                     (a dev server, whose mailbox is at /dev/mailbox) is set"
                )
            });
            Source::DevServer {
                url: format!("{}/dev/mailbox", base.trim_end_matches('/')),
            }
        };
        Mailbox::reading(source)
    }

    /// The mailbox of moto's SES at `url` (the server's base URL), whatever the environment
    /// says: for tests that send through SES themselves.
    pub fn moto_ses(url: &str) -> Mailbox {
        Mailbox::reading(Source::MotoSes {
            url: format!("{}/moto-api/data.json", url.trim_end_matches('/')),
        })
    }

    fn reading(source: Source) -> Mailbox {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // As `Api::new`: no kept-alive connection for a server to close under us.
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client");
        Mailbox { http, source }
    }

    /// Every mail sent to `email` so far, newest first.
    pub async fn messages_to(&self, email: &str) -> Vec<Mail> {
        self.all()
            .await
            .into_iter()
            .filter(|mail| mail.to.eq_ignore_ascii_case(email))
            .collect()
    }

    /// The newest mail sent to `email`, waiting a few seconds for one; panics when none came.
    pub async fn latest_to(&self, email: &str) -> Mail {
        let deadline = tokio::time::Instant::now() + ARRIVAL_WAIT;
        loop {
            if let Some(mail) = self.messages_to(email).await.into_iter().next() {
                return mail;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no mail to {email} arrived within {ARRIVAL_WAIT:?} (read from {:?})",
                    self.source
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Every mail the deployment sent, newest first.
    async fn all(&self) -> Vec<Mail> {
        match &self.source {
            Source::DevServer { url } => dev_mailbox(&self.get_json(url).await),
            Source::MotoSes { url } => moto_ses(&self.get_json(url).await),
        }
    }

    async fn get_json(&self, url: &str) -> Value {
        let reply = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = reply.status();
        let body = reply
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"));
        assert!(status.is_success(), "GET {url} answered {status}: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url} is not JSON ({e}): {body}"))
    }
}

/// The dev server's `GET /dev/mailbox`: already newest first.
fn dev_mailbox(listed: &Value) -> Vec<Mail> {
    let field = |mail: &Value, name: &str| {
        mail[name]
            .as_str()
            .unwrap_or_else(|| panic!("/dev/mailbox entry without {name}: {mail}"))
            .to_owned()
    };
    let mails = listed
        .as_array()
        .unwrap_or_else(|| panic!("/dev/mailbox is not a JSON array: {listed}"));
    mails
        .iter()
        .map(|mail| Mail {
            to: field(mail, "to"),
            subject: field(mail, "subject"),
            text: field(mail, "text"),
            html: field(mail, "html"),
        })
        .collect()
}

/// moto's `GET /moto-api/data.json`: `ses.Message` in the order sent, one entry per message
/// (to every recipient in `destinations.ToAddresses`).
fn moto_ses(models: &Value) -> Vec<Mail> {
    let Some(messages) = models["ses"]["Message"].as_array() else {
        // No SES request yet: moto lists a service only once its backend exists.
        return Vec::new();
    };
    let field = |message: &Value, name: &str| message[name].as_str().map(str::to_owned);
    messages
        .iter()
        .rev()
        .flat_map(|message| {
            let subject = field(message, "subject").unwrap_or_default();
            // Without the test server's patch moto keeps only `body`, the HTML when there is one.
            let body = field(message, "body").unwrap_or_default();
            let text = field(message, "text").unwrap_or_else(|| body.clone());
            let html = field(message, "html").unwrap_or(body);
            let to = message["destinations"]["ToAddresses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            to.into_iter()
                .filter_map(|to| to.as_str().map(str::to_owned))
                .map(move |to| Mail {
                    to,
                    subject: subject.clone(),
                    text: text.clone(),
                    html: html.clone(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mail(text: &str) -> Mail {
        Mail {
            to: "ada@example.com".into(),
            subject: "s".into(),
            text: text.into(),
            html: String::new(),
        }
    }

    #[test]
    fn the_link_token_is_read_from_the_fragment_only() {
        let m = mail(
            "Open https://app.example/#/verify-email?token=aB3_-x9 to verify.\nOr type 123456.",
        );
        assert_eq!(m.link_token().as_deref(), Some("aB3_-x9"));
        assert_eq!(
            mail("https://app.example/#token=abc.")
                .link_token()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            mail("https://app.example/?token=abc").link_token(),
            None,
            "a query is not a fragment"
        );
        assert_eq!(mail("no link here").link_token(), None);
    }

    #[test]
    fn the_code_is_six_digits_standing_alone() {
        assert_eq!(mail("Your code: 042519.").code().as_deref(), Some("042519"));
        assert_eq!(mail("123456").code().as_deref(), Some("123456"));
        assert_eq!(
            mail("#/verify?token=ab123456cd then 654321")
                .code()
                .as_deref(),
            Some("654321")
        );
        assert_eq!(mail("1234567 and 12345").code(), None);
    }

    #[test]
    fn the_dev_mailbox_listing_is_read_in_its_order() {
        let listed = json!([
            {"to": "b@example.com", "subject": "2", "text": "t2", "html": "h2", "sent_at": 2},
            {"to": "a@example.com", "subject": "1", "text": "t1", "html": "h1", "sent_at": 1},
        ]);
        let mails = dev_mailbox(&listed);
        assert_eq!(
            mails.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
            ["2", "1"]
        );
        assert_eq!(
            mails[1],
            Mail {
                to: "a@example.com".into(),
                subject: "1".into(),
                text: "t1".into(),
                html: "h1".into()
            }
        );
    }

    #[test]
    fn motos_ses_messages_are_read_newest_first() {
        let models = json!({"ses": {"Message": [
            {"id": "1", "source": "f@example.org", "subject": "1", "body": "h1", "text": "t1", "html": "h1",
             "destinations": {"ToAddresses": ["a@example.com"]}},
            {"id": "2", "source": "f@example.org", "subject": "2", "body": "h2", "text": "t2", "html": "h2",
             "destinations": {"ToAddresses": ["b@example.com"]}},
        ]}});
        let mails = moto_ses(&models);
        assert_eq!(
            mails.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
            ["2", "1"]
        );
        assert_eq!(
            mails[1],
            Mail {
                to: "a@example.com".into(),
                subject: "1".into(),
                text: "t1".into(),
                html: "h1".into()
            }
        );
        assert!(
            moto_ses(&json!({"dynamodb": {}})).is_empty(),
            "no SES request yet: no mail"
        );
    }
}
