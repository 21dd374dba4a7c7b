//! Sending mail: the seam every flow that proves an address or recovers an account goes
//! through, and the dev server's outbox. The cloud transports (SES v2 from Lambda and, signed
//! with SigV4, from the Worker) implement [`Mailer`] next to their runtime adapters.

use std::sync::Mutex;

use crate::clock::UnixTime;
use crate::email::Email;
use crate::error::Cause;

/// One message to one address: plain text, and the same content as simple HTML.
#[derive(Clone)]
pub struct Mail {
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl std::fmt::Debug for Mail {
    // A mail's body carries a link token or a code, and its recipient is personal data: neither
    // belongs in a log line or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a mail was not sent. The flow that wanted it answers 503 and keeps nothing that
/// would need the mail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The mail provider could not be reached or refused the message.
    #[error("mail provider unavailable")]
    Unavailable(#[source] Cause),
}

/// Where mail goes: a cloud provider when deployed, the outbox in the dev server and tests.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Mailer: Send + Sync {
    /// Hands `mail` to the provider; `Ok` means the provider accepted it.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// A mail the [`Outbox`] kept, with the time it was handed over.
#[derive(Clone, serde::Serialize)]
pub struct SentMail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// When it was sent, in Unix seconds.
    pub sent_at: i64,
}

/// Keeps every mail in memory instead of sending it: the dev server's mailbox (so a local
/// user can follow a link without a mail provider) and the behaviour tests' inbox.
pub struct Outbox {
    sent: Mutex<Vec<SentMail>>,
    clock: std::sync::Arc<dyn crate::Clock>,
}

impl Outbox {
    /// An empty outbox that stamps each mail with `clock`'s time.
    pub fn new(clock: std::sync::Arc<dyn crate::Clock>) -> Self {
        Outbox {
            sent: Mutex::new(Vec::new()),
            clock,
        }
    }

    /// Every mail kept so far, newest first.
    pub fn messages(&self) -> Vec<SentMail> {
        let sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.iter().rev().cloned().collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let UnixTime(sent_at) = self.clock.now();
        let kept = SentMail {
            to: mail.to.as_str().to_owned(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
            sent_at,
        };
        // A panic elsewhere while holding the lock leaves the list intact: keep using it.
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(kept);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    fn mail(to: &str, subject: &str) -> Mail {
        Mail {
            to: Email::parse(to).unwrap(),
            subject: subject.into(),
            text: "your code is 123456".into(),
            html: "<p>your code is 123456</p>".into(),
        }
    }

    #[tokio::test]
    async fn the_outbox_keeps_every_mail_newest_first_with_the_time_it_was_sent() {
        let clock = ManualClock::at(UnixTime(1_000));
        let outbox = Outbox::new(Arc::new(clock.clone()));
        outbox
            .send(&mail("ada@example.com", "first"))
            .await
            .unwrap();
        clock.advance(std::time::Duration::from_secs(5));
        outbox
            .send(&mail("grace@example.com", "second"))
            .await
            .unwrap();

        let kept = outbox.messages();
        let summary: Vec<_> = kept
            .iter()
            .map(|m| (m.to.as_str(), m.subject.as_str(), m.sent_at))
            .collect();
        assert_eq!(
            summary,
            [
                ("grace@example.com", "second", 1_005),
                ("ada@example.com", "first", 1_000)
            ]
        );
        assert_eq!(kept[0].text, "your code is 123456");
    }

    #[test]
    fn a_mails_debug_shows_neither_its_recipient_nor_its_body() {
        let shown = format!("{:?}", mail("ada@example.com", "Verify your address"));
        assert!(shown.contains("Verify your address"), "{shown}");
        assert!(
            !shown.contains("ada@") && !shown.contains("123456"),
            "{shown}"
        );
    }
}
