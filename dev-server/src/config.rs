//! Development defaults on top of the production configuration.
//!
//! A default is applied only to a variable that is unset (or empty, which authfn treats as
//! unset), so anything you export wins, and each one applied is announced, because a silent
//! default is how dev settings leak into places they should not be.

use std::collections::HashMap;

use authfn::Config;
use authfn::config::ConfigError;
use authfn::crypto;

/// One default that was applied: the variable and a line saying what it now is. The line
/// never contains the value of a secret.
pub(crate) struct Applied {
    pub var: &'static str,
    pub note: String,
}

/// Reads the configuration through `lookup` (the process environment, in `main`), filling the
/// dev defaults in. `port` is the port the server listens on, so the demo page's own origin is
/// trusted whatever `--addr` says.
pub(crate) fn load(
    lookup: impl Fn(&str) -> Option<String>,
    port: u16,
) -> Result<(Config, Vec<Applied>), ConfigError> {
    let settings = authfn::settings::Settings::new(&lookup);
    let is_set = |name: &str| settings.get(name).is_some();
    let mut defaults: HashMap<&'static str, String> = HashMap::new();
    let mut applied = Vec::new();

    if !is_set("AUTHFN_SESSION_KEYS") {
        let key = crypto::random_array::<32>()
            .map_err(|e| ConfigError::new(format!("no OS randomness: {e}")))?;
        defaults.insert("AUTHFN_SESSION_KEYS", crypto::b64url(&key));
        applied.push(Applied {
            var: "AUTHFN_SESSION_KEYS",
            note: "a random key for this run only: sessions end when the server restarts".into(),
        });
    }
    if !is_set("AUTHFN_DATA_KEYS") {
        let key = crypto::random_array::<32>()
            .map_err(|e| ConfigError::new(format!("no OS randomness: {e}")))?;
        defaults.insert("AUTHFN_DATA_KEYS", crypto::b64url(&key));
        applied.push(Applied {
            var: "AUTHFN_DATA_KEYS",
            note: "a random key for this run only: it encrypts the TOTP secrets of the in-memory store".into(),
        });
    }
    if !is_set("AUTHFN_COOKIE_SECURE") {
        defaults.insert("AUTHFN_COOKIE_SECURE", "false".into());
        applied.push(Applied {
            var: "AUTHFN_COOKIE_SECURE",
            note: "false (plain-HTTP cookies)".into(),
        });
    }
    if !is_set("AUTHFN_TRUSTED_ORIGINS") {
        let origins =
            format!("http://localhost:{port},http://127.0.0.1:{port},http://localhost:5173");
        applied.push(Applied {
            var: "AUTHFN_TRUSTED_ORIGINS",
            note: origins.clone(),
        });
        defaults.insert("AUTHFN_TRUSTED_ORIGINS", origins);
    }

    let config =
        Config::from_lookup(|name| settings.get(name).or_else(|| defaults.get(name).cloned()))?;
    Ok((config, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(pairs: &[(&str, &str)]) -> (Config, Vec<&'static str>) {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (config, applied) = load(|k| env.get(k).cloned(), 3000).unwrap();
        (config, applied.iter().map(|a| a.var).collect())
    }

    #[test]
    fn fills_in_every_default_when_nothing_is_set() {
        let (config, applied) = load_with(&[]);
        assert_eq!(
            applied,
            [
                "AUTHFN_SESSION_KEYS",
                "AUTHFN_DATA_KEYS",
                "AUTHFN_COOKIE_SECURE",
                "AUTHFN_TRUSTED_ORIGINS"
            ]
        );
        assert!(!config.cookie.secure);
        assert!(config.data_keys.is_some());
        assert_eq!(
            config.trusted_origins,
            [
                "http://localhost:3000",
                "http://127.0.0.1:3000",
                "http://localhost:5173"
            ]
        );
    }

    #[test]
    fn what_is_set_wins_and_is_not_announced() {
        let key = crypto::b64url(&[7u8; 32]);
        let (config, applied) = load_with(&[
            ("AUTHFN_SESSION_KEYS", &key),
            ("AUTHFN_DATA_KEYS", &key),
            ("AUTHFN_COOKIE_SECURE", ""),
            ("AUTHFN_TRUSTED_ORIGINS", "http://localhost:8080"),
        ]);
        assert_eq!(applied, ["AUTHFN_COOKIE_SECURE"]);
        assert_eq!(config.trusted_origins, ["http://localhost:8080"]);
    }
}
