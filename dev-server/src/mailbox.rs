//! The dev server's mail: every message is printed to the terminal, so a local user can follow
//! its link, and kept for `GET /dev/mailbox`, so scripts and browser tests can read it. Only
//! the dev server has this; deployed functions and the Worker send through a mail provider.

use std::sync::Arc;

use authfn::mail::{Mail, MailError, Mailer, Outbox, SentMail};

/// The outbox behind `GET /dev/mailbox`, printing each mail as it arrives.
pub(crate) struct Mailbox {
    outbox: Outbox,
}

impl Mailbox {
    /// An empty mailbox stamping mail with the system clock.
    pub(crate) fn new() -> Self {
        Mailbox {
            outbox: Outbox::new(Arc::new(authfn::clock::SystemClock)),
        }
    }

    /// Every mail sent so far, newest first.
    pub(crate) fn messages(&self) -> Vec<SentMail> {
        self.outbox.messages()
    }
}

#[async_trait::async_trait]
impl Mailer for Mailbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        println!(
            "authfn-dev: mail to {} — {}\n{}\n(also at GET /dev/mailbox)",
            mail.to.as_str(),
            mail.subject,
            mail.text
        );
        self.outbox.send(mail).await
    }
}
