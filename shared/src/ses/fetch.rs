//! `WorkerSesMailer`: SES v2 over the Workers runtime's `fetch`.

use std::time::{Duration, SystemTime};

use super::api::SesApi;
use crate::error::context;
use crate::mail::{Mail, MailError, Mailer};
use crate::workers::fetch::Outbound;

/// Sends each mail with a signed SES v2 `SendEmail` request through `fetch`.
#[derive(Debug)]
pub struct WorkerSesMailer {
    api: SesApi,
}

impl WorkerSesMailer {
    /// A mailer for `api`.
    pub fn new(api: SesApi) -> WorkerSesMailer {
        WorkerSesMailer { api }
    }
}

#[async_trait::async_trait(?Send)]
impl Mailer for WorkerSesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        // SystemTime::now() panics on wasm32-unknown-unknown: the Workers clock, in seconds.
        let crate::UnixTime(secs) = crate::Clock::now(&crate::clock::SystemClock);
        let now =
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or_default());
        let signed = self
            .api
            .send_email(mail, now)
            .map_err(|e| MailError::Unavailable(context("SES SendEmail: request not signed", e)))?;
        let headers: Vec<(&str, &str)> = signed
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let outbound = Outbound {
            method: "POST",
            headers: &headers,
            body: Some(&signed.body),
        };
        let res = crate::workers::fetch::send(&signed.url, outbound)
            .await
            .map_err(|e| MailError::Unavailable(context("SES SendEmail: could not connect", e)))?;
        let status = res.status;
        if (200..300).contains(&status) {
            return Ok(());
        }
        // Only the error's type: its message can quote the sender or the recipient.
        let code = serde_json::from_slice::<serde_json::Value>(&res.body)
            .ok()
            .and_then(|v| {
                v.get("__type")
                    .or_else(|| v.get("code"))
                    .and_then(|c| c.as_str())
                    .map(str::to_owned)
            })
            .or_else(|| res.headers.get("x-amzn-errortype").ok().flatten())
            .unwrap_or_else(|| "without a code".to_owned());
        Err(MailError::Unavailable(
            format!("SES SendEmail: refused with {status}, error {code}").into(),
        ))
    }
}
