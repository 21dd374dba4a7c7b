//! Configuration, read once from the environment into typed values. Every default is the safe
//! production choice; development conveniences (plain-HTTP cookies) must be asked for and are
//! refused unless every trusted origin is a loopback one.

use std::time::Duration;

use crate::crypto::{self, HmacKey, KeyRing};
use crate::federation::FederationConfig;
use crate::oauth::OAuthConfig;
use crate::password::Argon2Cost;
pub use crate::settings::ConfigError;
use crate::settings::Settings;

/// Everything a deployment sets: the policies every endpoint follows, its keys, and the
/// optional identity providers and token issuer.
#[derive(Debug, Clone)]
pub struct Config {
    /// Whether the session, device and federation cookies are Secure (and `__Host-` named).
    pub cookie: CookiePolicy,
    /// How long a session lasts, idle and in all.
    pub session: SessionPolicy,
    /// The argon2id cost every new password hash is made with.
    pub argon2: Argon2Cost,
    /// How many wrong passwords (or client secrets) lock an account (or client) out, and for how long.
    pub lockout: LockoutPolicy,
    /// How many requests each rate-limited endpoint takes from one client per minute.
    pub rate_limit: RateLimitPolicy,
    /// Exact origins (`scheme://host[:port]`) whose browsers may make state-changing and
    /// credentialed cross-origin requests.
    pub trusted_origins: Vec<String>,
    /// A header set by a proxy you trust (e.g. `CF-Connecting-IP`) that names the client's IP.
    /// Unset by default: the IP then comes from the runtime's request context, which a client
    /// cannot forge.
    pub client_ip_header: Option<http::HeaderName>,
    /// How many proxies in front of authfn append to `client_ip_header` (counted from the
    /// right): the client's address is the entry this far from the end.
    pub trusted_proxy_hops: usize,
    /// The largest request body accepted, in bytes; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// `Strict-Transport-Security` max-age on every response, or `None` for no header
    /// (`AUTHFN_HSTS`; on by default whenever authfn is served over HTTPS).
    pub hsts: Option<Duration>,
    /// HMAC keys for session cookies: the first signs, all verify.
    pub session_keys: KeyRing,
    /// Where authfn itself is served (`AUTHFN_PUBLIC_URL`): the base of identity-provider
    /// callbacks and the token issuer's identifier. Its origin may post to authfn's own pages.
    pub public_url: Option<url::Url>,
    /// Upstream identity providers (none unless configured).
    pub federation: FederationConfig,
    /// The token issuer for CLI and mobile clients (off unless clients are configured).
    pub oauth: Option<OAuthConfig>,
    /// Whose access tokens [`crate::App::verify_access_token`] accepts (by default this
    /// deployment's own, when `AUTHFN_PUBLIC_URL` is set).
    pub access_tokens: Option<crate::oauth::verifier::VerifierConfig>,
    /// Whether sign-up must prove the address by a mailed link or code (`AUTHFN_EMAIL_VERIFICATION`).
    pub email_verification: EmailVerification,
    /// The SPA that mailed links open (`AUTHFN_APP_URL`): a link is this URL with the token in
    /// its fragment. `None` when unset outside development; the endpoints that mail refuse to
    /// start without it (see [`crate::App::check_can_serve`]).
    pub app_url: Option<url::Url>,
    /// The name mails are signed with (`AUTHFN_PRODUCT_NAME`).
    pub product_name: String,
    /// Whether a mailed one-time code may sign an account in, without its password
    /// (`AUTHFN_EMAIL_CODE_SIGN_IN`). Off by default: the two endpoints answer 404 as an unknown
    /// route does.
    pub email_code_sign_in: bool,
    /// Whether an account with a second factor must also answer it after signing in through an
    /// identity provider (`AUTHFN_MFA_FOR_FEDERATED`). Off by default: the provider's own
    /// authentication (and its MFA policy) is trusted.
    pub mfa_for_federated: bool,
    /// Whether a sign-in from a device that has not signed in to the account before mails the
    /// account a notice (`AUTHFN_NEW_DEVICE_MAIL`). Off by default: the endpoints that sign in
    /// then need a mailer (see [`crate::App::sends_mail`]).
    pub new_device_mail: bool,
    /// The WebAuthn relying party (`AUTHFN_WEBAUTHN_RP_ID`, `AUTHFN_WEBAUTHN_RP_NAME`).
    pub webauthn: crate::webauthn::ceremony::RelyingParty,
    /// The keys that encrypt the secrets authfn must read back, TOTP secrets
    /// (`AUTHFN_DATA_KEYS`, current first). `None` when unset: the endpoints that read or write
    /// TOTP secrets refuse to start without it (see [`crate::App::check_can_serve`]).
    pub data_keys: Option<crate::data_keys::DataKeyRing>,
}

/// Whether an address must be proven before an account is made for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// Sign-up mails a link and a code; the account exists once one of them comes back.
    Required,
    /// Sign-up creates the account at once (201) and says when the address is taken (409).
    /// Anyone can then hold an address they do not own, and learn which addresses have
    /// accounts: for closed deployments and migrations only.
    Off,
}

/// How authfn's cookies are set.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// Secure cookies with `__Host-` names; `false` only for http://localhost development.
    pub secure: bool,
}

impl CookiePolicy {
    /// `__Host-` makes the browser refuse the cookie unless it is Secure, has `Path=/` and no
    /// `Domain`, so no sibling subdomain can set or shadow it. Browsers only honour it over
    /// HTTPS, hence the plain name for http://localhost.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-authfn_session"
        } else {
            "authfn_session"
        }
    }

    /// The device cookie: which account this browser has signed in to (see `device`).
    pub fn device_name(&self) -> &'static str {
        if self.secure {
            "__Host-authfn_device"
        } else {
            "authfn_device"
        }
    }

    /// The cookie naming a sign-in waiting for its second factor (five minutes).
    pub fn pending_name(&self) -> &'static str {
        if self.secure {
            "__Host-authfn_mfa"
        } else {
            "authfn_mfa"
        }
    }

    /// The cookie that binds a federated sign-in to its browser.
    pub fn federation_name(&self) -> &'static str {
        if self.secure {
            "__Host-authfn_federation"
        } else {
            "authfn_federation"
        }
    }

    /// The cookie that carries a `form_post` sign-in's new session across its same-site
    /// finishing step (see `endpoints::federation`).
    pub fn federation_handoff_name(&self) -> &'static str {
        if self.secure {
            "__Host-authfn_federation_done"
        } else {
            "authfn_federation_done"
        }
    }
}

/// How long a session lives.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long expires (each use pushes it back, never past the absolute end).
    pub idle_timeout: Duration,
    /// A session expires this long after sign-in, however much it is used.
    pub absolute_lifetime: Duration,
}

/// The lockout after repeated wrong passwords or client secrets.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures within `window` that lock out (at least 1).
    pub max_failures: u64,
    /// The span failures are counted over, from the first.
    pub window: Duration,
    /// How long a lockout lasts once the last allowed failure is spent.
    pub lock_duration: Duration,
}

/// The request budget of the rate-limited endpoints (sign-up, sign-in, token, …), per client.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitPolicy {
    /// Sign-up and sign-in requests per client IP per minute, each endpoint counted apart.
    pub per_minute: u64,
}

impl Config {
    /// Reads `AUTHFN_*` from the process environment. `AUTHFN_SECRET_SETTINGS`, when set, is a
    /// JSON object of further settings: how a whole Secrets Manager secret (identity provider
    /// credentials, token signing keys) reaches a Lambda function as one variable. Real
    /// variables win.
    pub fn from_env() -> Result<Self, ConfigError> {
        let bundled: std::collections::HashMap<String, String> =
            match std::env::var("AUTHFN_SECRET_SETTINGS") {
                Ok(json) if !json.trim().is_empty() => {
                    serde_json::from_str(&json).map_err(|_| {
                        ConfigError::new(
                            "AUTHFN_SECRET_SETTINGS must be a JSON object of string settings",
                        )
                    })?
                }
                _ => Default::default(),
            };
        Self::from_lookup(|name| {
            std::env::var(name)
                .ok()
                .or_else(|| bundled.get(name).cloned())
        })
    }

    /// Reads configuration through `lookup`, so Workers bindings and tests can supply it.
    ///
    /// | variable | default |
    /// |---|---|
    /// | `AUTHFN_SESSION_KEYS` | required: comma-separated base64url keys of ≥ 32 bytes, current first |
    /// | `AUTHFN_TRUSTED_ORIGINS` | none: comma-separated exact origins |
    /// | `AUTHFN_COOKIE_SECURE` | `true`; `false` only with loopback origins |
    /// | `AUTHFN_SESSION_IDLE_SECS` | 1800 |
    /// | `AUTHFN_SESSION_ABSOLUTE_SECS` | 43200 |
    /// | `AUTHFN_ARGON2_MEMORY_KIB` / `_ITERATIONS` / `_PARALLELISM` | 19456 / 2 / 1 |
    /// | `AUTHFN_LOCKOUT_MAX_FAILURES` | 5 |
    /// | `AUTHFN_LOCKOUT_WINDOW_SECS` / `AUTHFN_LOCKOUT_SECS` | 900 / 900 |
    /// | `AUTHFN_RATE_LIMIT_PER_MINUTE` | 20 |
    /// | `AUTHFN_CLIENT_IP_HEADER` | unset; one of `request::headers`' known set (`X-Forwarded-For`, `X-Real-IP`, …) |
    /// | `AUTHFN_TRUSTED_PROXY_HOPS` | 1 (the right-most entry of the header); only with the header |
    /// | `AUTHFN_MAX_BODY_BYTES` | 16384 |
    /// | `AUTHFN_HSTS` | `max-age` seconds, or `off`: 31536000 (1 year) when cookies are Secure or `AUTHFN_PUBLIC_URL` is https, else off |
    /// | `AUTHFN_EMAIL_VERIFICATION` | `required`; or `off` |
    /// | `AUTHFN_APP_URL` | the SPA's URL, for mailed links; with plain-HTTP cookies (development) the first trusted origin |
    /// | `AUTHFN_PRODUCT_NAME` | `authfn` |
    /// | `AUTHFN_EMAIL_CODE_SIGN_IN` | `false`; `true` lets a mailed one-time code sign in |
    /// | `AUTHFN_WEBAUTHN_RP_ID` | the host of `AUTHFN_APP_URL`, else of the first trusted origin, else `localhost`; every trusted origin must be in it |
    /// | `AUTHFN_WEBAUTHN_RP_NAME` | the product name |
    /// | `AUTHFN_DATA_KEYS` | unset; base64url 32-byte keys, current first, for TOTP secrets |
    ///
    /// Identity providers: see [`FederationConfig::from_settings`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(&lookup);
        let get = |name: &str| settings.get(name);

        let session_keys = parse_keys(get("AUTHFN_SESSION_KEYS"))?;
        let trusted_origins = settings
            .list("AUTHFN_TRUSTED_ORIGINS")
            .iter()
            .map(|o| parse_origin(o))
            .collect::<Result<Vec<_>, _>>()?;
        let secure = settings.flag("AUTHFN_COOKIE_SECURE", true)?;
        if !secure && let Some(o) = trusted_origins.iter().find(|o| !is_loopback_http(o)) {
            return Err(ConfigError::new(format!(
                "AUTHFN_COOKIE_SECURE=false is for http://localhost development only, but {o} is trusted"
            )));
        }
        // A plain-HTTP origin trusted next to Secure cookies: anyone on its network path can
        // inject script there that makes credentialed, CSRF-approved calls with the session.
        if secure && let Some(o) = trusted_origins.iter().find(|o| !o.starts_with("https://")) {
            return Err(ConfigError::new(format!(
                "AUTHFN_TRUSTED_ORIGINS: {o} is not https:// but cookies are Secure (http://localhost needs AUTHFN_COOKIE_SECURE=false)"
            )));
        }

        let session = SessionPolicy {
            idle_timeout: settings
                .secs("AUTHFN_SESSION_IDLE_SECS", Duration::from_secs(30 * 60))?,
            absolute_lifetime: settings.secs(
                "AUTHFN_SESSION_ABSOLUTE_SECS",
                Duration::from_secs(12 * 60 * 60),
            )?,
        };
        if session.idle_timeout.is_zero() || session.absolute_lifetime.is_zero() {
            return Err(ConfigError::new("session lifetimes must be positive"));
        }
        let defaults = Argon2Cost::default();
        let argon2 = Argon2Cost {
            memory_kib: settings.small_number("AUTHFN_ARGON2_MEMORY_KIB", defaults.memory_kib)?,
            iterations: settings.small_number("AUTHFN_ARGON2_ITERATIONS", defaults.iterations)?,
            parallelism: settings
                .small_number("AUTHFN_ARGON2_PARALLELISM", defaults.parallelism)?,
        };
        let lockout = LockoutPolicy {
            max_failures: settings.number("AUTHFN_LOCKOUT_MAX_FAILURES", 5)?.max(1),
            window: settings.secs("AUTHFN_LOCKOUT_WINDOW_SECS", Duration::from_secs(15 * 60))?,
            lock_duration: settings.secs("AUTHFN_LOCKOUT_SECS", Duration::from_secs(15 * 60))?,
        };
        let rate_limit = RateLimitPolicy {
            per_minute: settings.number("AUTHFN_RATE_LIMIT_PER_MINUTE", 20)?.max(1),
        };
        let client_ip_header = get("AUTHFN_CLIENT_IP_HEADER")
            .map(|h| {
                crate::request::headers::client_ip_header(&h).ok_or_else(|| {
                    ConfigError::new(format!(
                        "AUTHFN_CLIENT_IP_HEADER is not a header that proxies hand the client's \
                         address on in: {h:?} (one of {})",
                        crate::request::headers::client_ip_header_names()
                    ))
                })
            })
            .transpose()?;
        let trusted_proxy_hops = match (get("AUTHFN_TRUSTED_PROXY_HOPS"), &client_ip_header) {
            (None, _) => 1,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "AUTHFN_TRUSTED_PROXY_HOPS only applies with AUTHFN_CLIENT_IP_HEADER",
                ));
            }
            (Some(_), Some(_)) => Some(settings.size("AUTHFN_TRUSTED_PROXY_HOPS", 1)?)
                .filter(|hops| (1..=16).contains(hops))
                .ok_or_else(|| ConfigError::new("AUTHFN_TRUSTED_PROXY_HOPS must be 1 to 16"))?,
        };
        let public_url = settings.url("AUTHFN_PUBLIC_URL")?;
        let served_over_https =
            secure || public_url.as_ref().is_some_and(|u| u.scheme() == "https");
        let hsts = match get("AUTHFN_HSTS").as_deref() {
            None => served_over_https.then_some(Duration::from_secs(365 * 24 * 3600)),
            Some("off" | "false" | "0") => None,
            Some(v) => Some(Duration::from_secs(v.parse().map_err(|_| {
                ConfigError::new(format!(
                    "AUTHFN_HSTS must be a max-age in seconds or off, got {v:?}"
                ))
            })?)),
        };
        let max_body_bytes = settings.size("AUTHFN_MAX_BODY_BYTES", 16 * 1024)?;
        let email_verification = match get("AUTHFN_EMAIL_VERIFICATION").as_deref() {
            None | Some("required") => EmailVerification::Required,
            Some("off") => EmailVerification::Off,
            Some(v) => {
                return Err(ConfigError::new(format!(
                    "AUTHFN_EMAIL_VERIFICATION must be required or off, got {v:?}"
                )));
            }
        };
        // Mailed links carry account secrets, so they go only where the operator said. In
        // development (plain-HTTP cookies, so every trusted origin is loopback) the first trusted
        // origin is the SPA; a deployment names its SPA, since guessing among origins could mail
        // links to the wrong site.
        let app_url = match settings.url("AUTHFN_APP_URL")? {
            Some(url) => Some(url),
            None if !secure => trusted_origins
                .first()
                .map(|o| crate::settings::web_url("AUTHFN_TRUSTED_ORIGINS", o))
                .transpose()?,
            None => None,
        };
        let product_name = get("AUTHFN_PRODUCT_NAME").unwrap_or_else(|| "authfn".to_owned());
        let email_code_sign_in = settings.flag("AUTHFN_EMAIL_CODE_SIGN_IN", false)?;
        let mfa_for_federated = settings.flag("AUTHFN_MFA_FOR_FEDERATED", false)?;
        let new_device_mail = settings.flag("AUTHFN_NEW_DEVICE_MAIL", false)?;
        let webauthn = crate::webauthn::ceremony::RelyingParty::from_settings(
            &settings,
            &trusted_origins,
            app_url.as_ref(),
            &product_name,
        )?;
        let data_keys = crate::data_keys::DataKeyRing::from_settings(&settings)?;

        Ok(Config {
            cookie: CookiePolicy { secure },
            session,
            argon2,
            lockout,
            rate_limit,
            trusted_origins,
            client_ip_header,
            trusted_proxy_hops,
            max_body_bytes,
            hsts,
            session_keys,
            federation: FederationConfig::from_settings(&settings, public_url.as_ref())?,
            oauth: OAuthConfig::from_settings(&settings, public_url.as_ref())?,
            access_tokens: crate::oauth::verifier::VerifierConfig::from_settings(
                &settings,
                public_url.as_ref(),
            )?,
            public_url,
            email_verification,
            app_url,
            product_name,
            email_code_sign_in,
            mfa_for_federated,
            new_device_mail,
            webauthn,
            data_keys,
        })
    }

    /// Whether `origin` is one of `trusted_origins` (an exact match).
    pub fn is_trusted_origin(&self, origin: &str) -> bool {
        self.trusted_origins.iter().any(|o| o == origin)
    }

    /// Whether `origin` is authfn's own (from `AUTHFN_PUBLIC_URL`): its server-rendered pages
    /// (the device verification page) post forms to it.
    pub fn is_own_origin(&self, origin: &str) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.origin().ascii_serialization() == origin)
    }
}

fn parse_keys(value: Option<String>) -> Result<KeyRing, ConfigError> {
    let value = value.ok_or_else(|| {
        ConfigError::new(
            "AUTHFN_SESSION_KEYS is required (generate one with infra/generate-keys.sh)",
        )
    })?;
    let mut keys = crate::settings::split_list(&value).into_iter().map(|k| {
        let bytes = crypto::b64url_decode(&k).ok_or_else(|| {
            ConfigError::new("AUTHFN_SESSION_KEYS must be base64url without padding")
        })?;
        HmacKey::new(bytes).map_err(|e| ConfigError::new(format!("AUTHFN_SESSION_KEYS: {e}")))
    });
    let current = keys
        .next()
        .ok_or_else(|| ConfigError::new("AUTHFN_SESSION_KEYS holds no key"))??;
    let previous = keys.collect::<Result<Vec<_>, _>>()?;
    Ok(KeyRing::new(current, previous))
}

/// Accepts only a bare origin, so a trailing slash or a path cannot silently never match.
fn parse_origin(origin: &str) -> Result<String, ConfigError> {
    let bad = || {
        ConfigError::new(format!(
            "AUTHFN_TRUSTED_ORIGINS: {origin:?} is not an origin like https://app.example.com"
        ))
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(bad)?;
    if !(scheme == "https" || scheme == "http")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
    {
        return Err(bad());
    }
    Ok(origin.to_ascii_lowercase())
}

fn is_loopback_http(origin: &str) -> bool {
    let Some(host_port) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn key() -> String {
        crypto::b64url(&[9u8; 32])
    }

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_production_ones() {
        let c = config(&[("AUTHFN_SESSION_KEYS", &key())]).unwrap();
        assert!(c.cookie.secure);
        assert_eq!(c.cookie.name(), "__Host-authfn_session");
        assert_eq!(c.session.idle_timeout, Duration::from_secs(1800));
        assert_eq!(c.session.absolute_lifetime, Duration::from_secs(43200));
        assert_eq!(c.argon2, Argon2Cost::default());
        assert_eq!(c.lockout.max_failures, 5);
        assert_eq!(c.rate_limit.per_minute, 20);
        assert_eq!(c.max_body_bytes, 16384);
        assert!(c.trusted_origins.is_empty());
        assert!(c.client_ip_header.is_none());
    }

    #[test]
    fn session_keys_are_required_and_checked() {
        assert!(config(&[]).is_err());
        assert!(config(&[("AUTHFN_SESSION_KEYS", "c2hvcnQ")]).is_err());
        assert!(config(&[("AUTHFN_SESSION_KEYS", "not base64!")]).is_err());
        let two = format!("{},{}", key(), crypto::b64url(&[1u8; 32]));
        assert!(config(&[("AUTHFN_SESSION_KEYS", &two)]).is_ok());
    }

    #[test]
    fn insecure_cookies_only_for_loopback() {
        let k = key();
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_COOKIE_SECURE", "false"),
                (
                    "AUTHFN_TRUSTED_ORIGINS",
                    "http://localhost:5173,http://127.0.0.1:3000"
                )
            ])
            .is_ok()
        );
        let err = config(&[
            ("AUTHFN_SESSION_KEYS", &k),
            ("AUTHFN_COOKIE_SECURE", "false"),
            (
                "AUTHFN_TRUSTED_ORIGINS",
                "http://localhost:5173,https://app.example.com",
            ),
        ])
        .unwrap_err();
        assert!(err.message().contains("app.example.com"));
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_COOKIE_SECURE", "nope")
            ])
            .is_err()
        );
    }

    #[test]
    fn trusted_origins_must_be_https_when_cookies_are_secure() {
        let k = key();
        let err = config(&[
            ("AUTHFN_SESSION_KEYS", &k),
            (
                "AUTHFN_TRUSTED_ORIGINS",
                "https://app.example.com,http://app.example.com",
            ),
        ])
        .unwrap_err();
        assert!(err.message().contains("http://app.example.com"), "{err}");
        // Loopback over plain HTTP only with plain-HTTP cookies.
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_TRUSTED_ORIGINS", "http://localhost:5173")
            ])
            .is_err()
        );
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_TRUSTED_ORIGINS", "https://app.example.com")
            ])
            .is_ok()
        );
    }

    #[test]
    fn hsts_is_on_for_https_and_configurable() {
        let k = key();
        let c = config(&[("AUTHFN_SESSION_KEYS", &k)]).unwrap();
        assert_eq!(c.hsts, Some(Duration::from_secs(31_536_000)));
        let dev = [
            ("AUTHFN_SESSION_KEYS", k.as_str()),
            ("AUTHFN_COOKIE_SECURE", "false"),
        ];
        assert_eq!(config(&dev).unwrap().hsts, None, "plain-HTTP development");
        let set = config(&[("AUTHFN_SESSION_KEYS", &k), ("AUTHFN_HSTS", "600")]).unwrap();
        assert_eq!(set.hsts, Some(Duration::from_secs(600)));
        assert_eq!(
            config(&[("AUTHFN_SESSION_KEYS", &k), ("AUTHFN_HSTS", "off")])
                .unwrap()
                .hsts,
            None
        );
        assert!(config(&[("AUTHFN_SESSION_KEYS", &k), ("AUTHFN_HSTS", "forever")]).is_err());
    }

    #[test]
    fn origins_must_be_bare() {
        let k = key();
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "ftp://x",
            "https://a.com/path",
        ] {
            assert!(
                config(&[("AUTHFN_SESSION_KEYS", &k), ("AUTHFN_TRUSTED_ORIGINS", bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_of_the_configuration_shows_no_secret() {
        let session_key = key();
        let jwt_seed = crypto::b64url(&[4u8; 32]);
        let client_secret =
            crypto::b64url(&[0x5a, 0x13, 0x77, 0x21, 0xc4, 0x9e, 0x02, 0xf0].repeat(4));
        let c = config(&[
            ("AUTHFN_SESSION_KEYS", &session_key),
            ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
            ("AUTHFN_OAUTH_CLIENTS", "api"),
            ("AUTHFN_OAUTH_CLIENT_API_SECRET", &client_secret),
            ("AUTHFN_JWT_KEYS", &jwt_seed),
            ("AUTHFN_FEDERATION_PROVIDERS", "okta"),
            ("AUTHFN_FEDERATION_OKTA_ISSUER", "https://example.okta.com"),
            ("AUTHFN_FEDERATION_OKTA_CLIENT_ID", "app"),
            (
                "AUTHFN_FEDERATION_OKTA_CLIENT_SECRET",
                "upstream-secret-value",
            ),
            ("AUTHFN_RETURN_TO", "https://app.example.com/"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in [
            session_key.as_str(),
            &jwt_seed,
            &client_secret,
            "upstream-secret-value",
        ] {
            assert!(
                !shown.contains(secret),
                "Debug of the configuration shows {secret}"
            );
        }
        // The bytes themselves, as a derived Debug of a Vec<u8> would print them.
        assert!(
            !shown.contains(&format!("{:?}", [9u8; 32])[1..20]),
            "Debug shows the session key's bytes"
        );
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn settings_errors_name_the_variable_but_not_a_secret() {
        let k = key();
        let err = config(&[("AUTHFN_SESSION_KEYS", "c2hvcnQ-not-a-real-key-at-all")]).unwrap_err();
        assert!(
            err.message().contains("AUTHFN_SESSION_KEYS")
                && !crate::error::chain(&err).contains("c2hvcnQ"),
            "{err}"
        );
        let weak = config(&[
            ("AUTHFN_SESSION_KEYS", &k),
            ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
            ("AUTHFN_OAUTH_CLIENTS", "api"),
            ("AUTHFN_OAUTH_CLIENT_API_SECRET", "weak-secret-123"),
        ])
        .unwrap_err();
        assert!(
            weak.message().contains("AUTHFN_OAUTH_CLIENT_API_SECRET")
                && !crate::error::chain(&weak).contains("weak-secret-123"),
            "{weak}"
        );
        let err =
            config(&[("AUTHFN_SESSION_KEYS", &k), ("AUTHFN_LOCKOUT_SECS", "soon")]).unwrap_err();
        assert!(err.message().contains("AUTHFN_LOCKOUT_SECS"), "{err}");
    }

    #[test]
    fn mailed_links_go_to_the_named_app_or_in_development_to_the_first_trusted_origin() {
        let k = key();
        let c = config(&[
            ("AUTHFN_SESSION_KEYS", &k),
            ("AUTHFN_TRUSTED_ORIGINS", "https://app.example.com"),
        ])
        .unwrap();
        assert_eq!(
            (c.email_verification, c.app_url, c.product_name.as_str()),
            (EmailVerification::Required, None, "authfn")
        );
        let named = config(&[
            ("AUTHFN_SESSION_KEYS", &k),
            ("AUTHFN_APP_URL", "https://app.example.com/accounts/"),
            ("AUTHFN_PRODUCT_NAME", "Example"),
            ("AUTHFN_EMAIL_VERIFICATION", "off"),
        ])
        .unwrap();
        assert_eq!(
            named.app_url.unwrap().as_str(),
            "https://app.example.com/accounts/"
        );
        assert_eq!(
            (named.product_name.as_str(), named.email_verification),
            ("Example", EmailVerification::Off)
        );
        let dev = config(&[
            ("AUTHFN_SESSION_KEYS", &k),
            ("AUTHFN_COOKIE_SECURE", "false"),
            (
                "AUTHFN_TRUSTED_ORIGINS",
                "http://localhost:5173,http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(dev.app_url.unwrap().as_str(), "http://localhost:5173/");
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_APP_URL", "http://app.example.com")
            ])
            .is_err()
        );
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_EMAIL_VERIFICATION", "optional")
            ])
            .is_err()
        );
    }

    #[test]
    fn numbers_are_validated() {
        let k = key();
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_SESSION_IDLE_SECS", "ten")
            ])
            .is_err()
        );
        assert!(
            config(&[
                ("AUTHFN_SESSION_KEYS", &k),
                ("AUTHFN_SESSION_IDLE_SECS", "0")
            ])
            .is_err()
        );
    }
}
