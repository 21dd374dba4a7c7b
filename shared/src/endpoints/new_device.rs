//! The notice of a sign-in from a new device (`AUTHFN_NEW_DEVICE_MAIL=true`; off by default):
//! when a session is made for an existing account and the client did not present the
//! account's device cookie (or, without a cookie jar, its device token), the account's address
//! is told which browser, from which network, and when. Someone holding the password (or a
//! mailbox, or an upstream account) shows up in the owner's inbox, not only in their activity.
//!
//! "New" is the device rule of the lockout (`crate::device`): a browser that signed in to this
//! account before, within the device lifetime, keeps the cookie; a browser whose cookies were
//! cleared counts as new. The notice carries nothing that signs in, and is best-effort: the
//! sign-in stands whatever the mail does, and a failure goes to the answer's log line.

use super::account::mails;
use super::credentials::presented_device;
use crate::App;
use crate::request::HttpRequest;
use crate::response::ErrorDetail;
use crate::store::{SessionRecord, UserRecord};

impl App {
    /// Mails `user` about `session` if the setting is on and the client presented no device
    /// cookie (nor `body_token`) for the account. Returns why the mail failed, if it did.
    pub(crate) async fn notice_new_device(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
        session: &SessionRecord,
        body_token: Option<&str>,
    ) -> Option<ErrorDetail> {
        if !self.config.new_device_mail
            || presented_device(self, req, body_token, &user.id).is_some()
        {
            return None;
        }
        let mail = mails::new_device_sign_in(&self.config, &user.email, session);
        self.send_mail(&mail).await.err().map(|e| ErrorDetail {
            code: e.code(),
            cause: e.cause_chain(),
        })
    }
}
