//! `WorkerSesMailer`: SES v2 over the Workers runtime's `fetch`.

use std::time::{Duration, SystemTime};

use super::api::SesApi;
use crate::error::context;
use crate::mail::{Mail, MailError, Mailer};

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
        use worker::{Fetch, Method, RequestInit, RequestRedirect};
        // worker's error can hold a `JsValue`, which is not `Send`: its text is the cause.
        let failed = |what: &'static str| {
            move |e: worker::Error| MailError::Unavailable(context(what, e.to_string()))
        };
        // SystemTime::now() panics on wasm32-unknown-unknown: the Workers clock, in seconds.
        let crate::UnixTime(secs) = crate::Clock::now(&crate::clock::SystemClock);
        let now =
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or_default());
        let signed = self
            .api
            .send_email(mail, now)
            .map_err(|e| MailError::Unavailable(context("SES SendEmail: request not signed", e)))?;
        let headers = worker::Headers::new();
        for (name, value) in &signed.headers {
            headers
                .set(name, value)
                .map_err(failed("SES SendEmail: request not built"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_redirect(RequestRedirect::Manual)
            .with_headers(headers)
            .with_body(Some(
                js_sys::Uint8Array::from(signed.body.as_slice()).into(),
            ));
        let req = worker::Request::new_with_init(&signed.url, &init)
            .map_err(failed("SES SendEmail: request not built"))?;
        let mut res = Fetch::Request(req)
            .send()
            .await
            .map_err(failed("SES SendEmail: could not connect"))?;
        let status = res.status_code();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // Only the error's type: its message can quote the sender or the recipient.
        let body = res.text().await.unwrap_or_default();
        let code = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("__type")
                    .or_else(|| v.get("code"))
                    .and_then(|c| c.as_str())
                    .map(str::to_owned)
            })
            .or_else(|| res.headers().get("x-amzn-errortype").ok().flatten())
            .unwrap_or_else(|| "without a code".to_owned());
        Err(MailError::Unavailable(
            format!("SES SendEmail: refused with {status}, error {code}").into(),
        ))
    }
}
