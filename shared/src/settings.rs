//! The one reader of `AUTHFN_*` settings, below every configuration module (`config`,
//! `oauth::config`, `federation::config`, `oauth::verifier`), with one set of rules:
//!
//! - values are trimmed, and an empty value is the same as an unset one;
//! - lists are comma-separated; items are trimmed and empty items ignored;
//! - flags are `true`/`1` or `false`/`0`;
//! - durations are whole seconds;
//! - URLs are absolute https (http only on a loopback host), without credentials;
//! - an error names the variable. Only values of settings that are not secrets are echoed:
//!   secrets are read with [`Settings::get`], and their parsers' errors say what is wrong
//!   without the value.

use std::time::Duration;

use url::Url;

use crate::error::Cause;

/// A setting that is missing or does not parse. The message names the variable; the source,
/// when there is one, is the parser's own error.
#[derive(Debug, thiserror::Error)]
#[error("authfn configuration: {message}")]
pub struct ConfigError {
    message: String,
    #[source]
    source: Option<Cause>,
}

impl ConfigError {
    /// A rule the setting breaks; `message` names the variable.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            source: None,
        }
    }

    /// `message`, because a parser refused the value with `source`.
    pub fn because(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        ConfigError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What is wrong, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Settings read through a lookup (the process environment, Workers bindings, a test's map).
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Settings<'a> {
    /// Reads through `lookup`, which returns a variable's raw value.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Settings { lookup }
    }

    /// The trimmed value; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value, or an error saying it is required (and why, when `why` is given).
    pub fn required(&self, name: &str, why: &str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError::new(format!("{name} is required{why}")))
    }

    /// A comma-separated list: trimmed items, empty ones ignored; empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name).map(|v| split_list(&v)).unwrap_or_default()
    }

    /// A whole number, or `default` when unset.
    pub fn number(&self, name: &str, default: u64) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::new(format!("{name} must be a whole number, got {v:?}"))),
        }
    }

    /// A whole number that fits a `u32`, or `default` when unset.
    pub fn small_number(&self, name: &str, default: u32) -> Result<u32, ConfigError> {
        u32::try_from(self.number(name, u64::from(default))?)
            .map_err(|_| ConfigError::new(format!("{name} is too large")))
    }

    /// A whole number that fits a `usize`, or `default` when unset.
    pub fn size(&self, name: &str, default: usize) -> Result<usize, ConfigError> {
        let default = u64::try_from(default).unwrap_or(u64::MAX);
        usize::try_from(self.number(name, default)?)
            .map_err(|_| ConfigError::new(format!("{name} is too large")))
    }

    /// Whole seconds (zero allowed), or `default` when unset.
    pub fn secs(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::new(format!("{name} must be a whole number, got {v:?}"))),
        }
    }

    /// A positive whole number of seconds, or `default` when unset.
    pub fn positive_secs(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    ConfigError::new(format!(
                        "{name} must be a positive number of seconds, got {v:?}"
                    ))
                }),
        }
    }

    /// `true`/`1` or `false`/`0`, or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ConfigError::new(format!(
                "{name} must be true or false, got {other:?}"
            ))),
        }
    }

    /// A web URL (see [`web_url`]), or `None` when unset.
    pub fn url(&self, name: &str) -> Result<Option<Url>, ConfigError> {
        self.get(name).map(|v| web_url(name, &v)).transpose()
    }
}

/// Comma-separated items, trimmed, empty ones ignored.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An absolute https URL, or http on a loopback host (local test providers and dev servers).
pub fn web_url(setting: &str, value: &str) -> Result<Url, ConfigError> {
    // A URL may carry credentials (`https://user:pw@…`), and this text reaches logs: the
    // value is shown only when it has none.
    let shown = if value.contains('@') {
        String::from("the value")
    } else {
        format!("{value:?}")
    };
    let url = Url::parse(value)
        .map_err(|e| ConfigError::because(format!("{setting}: {shown} is not a URL"), e))?;
    if !is_web_url(&url) {
        return Err(ConfigError::new(format!(
            "{setting}: {shown} must be https, without user or password (http only on a loopback host)"
        )));
    }
    Ok(url)
}

/// Whether `url` is one [`web_url`] accepts.
pub fn is_web_url(url: &Url) -> bool {
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    !url.cannot_be_a_base()
        && url.username().is_empty()
        && url.password().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T>(value: &str, f: impl Fn(Settings<'_>) -> T) -> T {
        let value = value.to_owned();
        let lookup = move |name: &str| (name == "X").then(|| value.clone());
        f(Settings::new(&lookup))
    }

    #[test]
    fn values_are_trimmed_and_empty_is_unset() {
        assert_eq!(read("  a  ", |s| s.get("X")), Some("a".into()));
        assert_eq!(read("   ", |s| s.get("X")), None);
        assert_eq!(
            read(" ", |s| s.secs("X", Duration::from_secs(7))).unwrap(),
            Duration::from_secs(7)
        );
        assert_eq!(
            read(" a, ,b ,", |s| s.list("X")),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert!(
            read("", |s| s.required("X", ""))
                .unwrap_err()
                .message()
                .contains('X')
        );
    }

    #[test]
    fn numbers_durations_and_flags_follow_one_rule_each() {
        assert_eq!(
            read("0", |s| s.secs("X", Duration::ZERO)).unwrap(),
            Duration::ZERO
        );
        assert!(read("0", |s| s.positive_secs("X", Duration::ZERO)).is_err());
        assert_eq!(
            read("90", |s| s.positive_secs("X", Duration::ZERO)).unwrap(),
            Duration::from_secs(90)
        );
        assert!(
            read("-1", |s| s.secs("X", Duration::ZERO))
                .unwrap_err()
                .message()
                .starts_with("X must be")
        );
        assert_eq!(
            read("4294967296", |s| s.small_number("X", 1))
                .unwrap_err()
                .message(),
            "X is too large"
        );
        for (v, b) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(read(v, |s| s.flag("X", !b)).unwrap(), b);
        }
        assert!(read("yes", |s| s.flag("X", true)).is_err());
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(read("https://a.example", |s| s.url("X")).unwrap().is_some());
        assert!(
            read("http://127.0.0.1:4000", |s| s.url("X"))
                .unwrap()
                .is_some()
        );
        assert!(read("http://a.example", |s| s.url("X")).is_err());
        assert!(read("https://user:pw@a.example", |s| s.url("X")).is_err());
    }

    #[test]
    fn a_url_with_credentials_is_refused_without_echoing_them() {
        for value in [
            "https://user:hunter2@a.example",
            "http://user:hunter2@a.example:99999",
        ] {
            let err = read(value, |s| s.url("X")).unwrap_err();
            assert!(
                !crate::error::chain(&err).contains("hunter2"),
                "{}",
                crate::error::chain(&err)
            );
            assert!(err.message().starts_with("X: "), "{}", err.message());
        }
    }

    #[test]
    fn a_value_that_is_no_url_keeps_the_parsers_reason_as_its_cause() {
        let err = read("https://a.example:99999", |s| s.url("X")).unwrap_err();
        assert_eq!(err.message(), "X: \"https://a.example:99999\" is not a URL");
        assert_eq!(
            crate::error::chain(&err),
            format!(
                "authfn configuration: {}: invalid port number",
                err.message()
            )
        );
    }
}
