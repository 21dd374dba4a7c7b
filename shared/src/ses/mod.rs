//! Mail through Amazon SES v2 `SendEmail`: a simple message (subject, text and HTML) from one
//! verified identity to one recipient. Two transports, one per runtime:
//!
//! - `SesMailer` (Lambda, feature `dynamodb`): the AWS SDK, with the
//!   function's role credentials. IAM grants `ses:SendEmail` on the identity only to the
//!   functions that send mail (template.yaml).
//! - `WorkerSesMailer` (Workers, feature `workers`): the same API over `fetch`, built by
//!   `ses::api` and signed with SigV4 by the `aws-sigv4` crate (`ses::sigv4`), with an access
//!   key kept in Worker secrets.
//!
//! Settings: `AUTHFN_MAIL_FROM` (required by every function that sends mail) and, for tests
//! against a local SES API, `AUTHFN_SES_ENDPOINT`.

use crate::settings::{ConfigError, Settings};

#[cfg(feature = "dynamodb")]
mod sdk;
#[cfg(feature = "dynamodb")]
pub use sdk::SesMailer;

#[cfg(any(test, feature = "workers"))]
pub mod api;
#[cfg(all(feature = "workers", target_arch = "wasm32"))]
mod fetch;
#[cfg(all(feature = "workers", target_arch = "wasm32"))]
pub use fetch::WorkerSesMailer;
#[cfg(any(test, feature = "workers"))]
pub mod sigv4;

/// The `From` of every mail: an address of a verified SES identity, optionally with a display
/// name (`Example <no-reply@example.com>`), from `AUTHFN_MAIL_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom(String);

impl MailFrom {
    /// The setting that holds it.
    pub const SETTING: &'static str = "AUTHFN_MAIL_FROM";

    /// `AUTHFN_MAIL_FROM`, required: a function that sends mail cannot start without it.
    pub fn from_settings(settings: &Settings<'_>) -> Result<MailFrom, ConfigError> {
        let value = settings.required(
            Self::SETTING,
            ": the From address of the mail this function sends, on an identity verified in SES",
        )?;
        MailFrom::parse(&value)
    }

    /// An address with an `@`, on one line (a line break would let the value add headers).
    pub fn parse(value: &str) -> Result<MailFrom, ConfigError> {
        let value = value.trim();
        if !value.contains('@') || value.contains(['\r', '\n']) {
            return Err(ConfigError::new(format!(
                "{}: {value:?} must be an address (optionally `Name <address>`) on one line",
                Self::SETTING
            )));
        }
        Ok(MailFrom(value.to_owned()))
    }

    /// The value as SES's `FromEmailAddress` takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `AUTHFN_SES_ENDPOINT`: another SES API than AWS's (a local one, for tests).
pub fn endpoint_from_settings(settings: &Settings<'_>) -> Result<Option<url::Url>, ConfigError> {
    settings.url("AUTHFN_SES_ENDPOINT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_from_address_is_required_and_on_one_line() {
        let unset = |_: &str| None;
        let err = MailFrom::from_settings(&Settings::new(&unset)).unwrap_err();
        assert!(
            err.message().contains("AUTHFN_MAIL_FROM is required"),
            "{err}"
        );
        assert_eq!(
            MailFrom::parse(" Example <no-reply@example.com> ")
                .unwrap()
                .as_str(),
            "Example <no-reply@example.com>"
        );
        assert!(MailFrom::parse("no-reply").is_err());
        assert!(MailFrom::parse("a@example.com\r\nBcc: b@example.com").is_err());
    }
}
