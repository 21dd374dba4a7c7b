//! Which upstream OpenID providers users may sign in with, read from the environment.
//!
//! | variable | meaning |
//! |---|---|
//! | `AUTHFN_FEDERATION_PROVIDERS` | comma-separated provider names, e.g. `okta,google` (none by default) |
//! | `AUTHFN_FEDERATION_<NAME>_ISSUER` | the issuer URL (https; http only for loopback test providers) |
//! | `AUTHFN_FEDERATION_<NAME>_CLIENT_ID` | this app's client id at the provider |
//! | `AUTHFN_FEDERATION_<NAME>_CLIENT_SECRET` | its client secret (a secret: Secrets Manager / `wrangler secret put`) |
//! | `AUTHFN_FEDERATION_<NAME>_SCOPES` | default `openid email profile` |
//! | `AUTHFN_FEDERATION_<NAME>_RESPONSE_MODE` | `query` (default) or `form_post` |
//! | `AUTHFN_FEDERATION_<NAME>_ALLOWED_EMAIL_DOMAINS` | optional comma-separated domains |
//! | `AUTHFN_FEDERATION_<NAME>_LINK_BY_EMAIL` | `false` (default) or `true`: link to a local account with the same, IdP-verified email |
//! | `AUTHFN_PUBLIC_URL` | where authfn is served, e.g. `https://auth.example.com` (the callback's base) |
//! | `AUTHFN_RETURN_TO` | comma-separated exact SPA URLs a sign-in may return to; the first is the default |
//!
//! `<NAME>` is the provider name upper-cased with `-` as `_`.

use std::collections::BTreeMap;

use url::Url;

use crate::email::Email;
pub use crate::protocol::{ClientId, ClientSecret, Scope};
use crate::settings::{ConfigError, Settings, web_url};

/// A configured provider's name as it appears in the path: `[a-z0-9-]{1,32}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderName(String);

impl ProviderName {
    /// The name if it matches `[a-z0-9-]{1,32}`, else `None`.
    pub fn parse(name: &str) -> Option<Self> {
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| ProviderName(name.to_owned()))
    }

    /// The name as it appears in the path and in the settings' names.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn env_prefix(&self) -> String {
        format!(
            "AUTHFN_FEDERATION_{}_",
            self.0.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// An issuer identifier exactly as configured; the discovery document and every ID token must
/// name it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    /// The issuer identifier, unchanged.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.0.trim_end_matches('/')
        )
    }
}

/// How the provider returns the user to the callback (OAuth 2.0 `response_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// A redirect (GET) with `code` and `state` in the query string.
    Query,
    /// A cross-site POST of an HTML form to the callback, `code` and `state` in its body.
    FormPost,
}

impl ResponseMode {
    /// The `response_mode` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }
}

/// One upstream identity provider: where it is and how authfn is registered with it.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name in `AUTHFN_FEDERATION_PROVIDERS` and in the sign-in and callback paths.
    pub name: ProviderName,
    /// The issuer its discovery document and ID tokens must name.
    pub issuer: IssuerUrl,
    /// authfn's client id at the provider (the ID token's audience).
    pub client_id: ClientId,
    /// authfn's client secret at the provider, sent to its token endpoint.
    pub client_secret: ClientSecret,
    /// The scopes asked for (`openid` among them).
    pub scopes: Scope,
    /// How the provider returns to the callback.
    pub response_mode: ResponseMode,
    /// Domains in IDNA's ASCII form; empty means any.
    pub allowed_email_domains: Vec<String>,
    /// Whether a first sign-in links to the local account with the same email, when the
    /// provider says it verified it.
    pub link_by_email: bool,
}

impl ProviderConfig {
    /// Whether an account with `email` may sign in through this provider (its domain allowed).
    pub fn allows_email(&self, email: &Email) -> bool {
        !self.restricts_email_domains()
            || self
                .allowed_email_domains
                .iter()
                .any(|d| d == email.domain())
    }

    /// Whether only some email domains may sign in with this provider.
    pub fn restricts_email_domains(&self) -> bool {
        !self.allowed_email_domains.is_empty()
    }
}

/// Sign-in through upstream providers: which ones, and where users come back to.
#[derive(Debug, Clone, Default)]
pub struct FederationConfig {
    /// The configured providers by name (none: federation is off).
    pub providers: BTreeMap<ProviderName, ProviderConfig>,
    /// `{public_url}/auth/federation/{name}/callback` is each provider's redirect URI.
    pub public_url: Option<Url>,
    /// Exact URLs a sign-in may return to; the first is where it returns by default.
    pub return_to: Vec<String>,
}

impl FederationConfig {
    /// The provider named `name` in a path, `None` when no such provider is configured.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(&ProviderName::parse(name)?)
    }

    /// The callback URL registered at `provider`: `{public_url}/auth/federation/{name}/callback`.
    pub fn redirect_uri(&self, provider: &ProviderName) -> String {
        let base = self
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/'))
            .unwrap_or_default();
        format!("{base}/auth/federation/{}/callback", provider.as_str())
    }

    /// The allowed `return_to` equal to `requested`, or the default when none was asked for.
    /// Exact string equality: no prefix or pattern matching that an open redirect could slip
    /// through.
    pub fn return_to(&self, requested: Option<&str>) -> Option<&str> {
        match requested {
            None => self.return_to.first().map(String::as_str),
            Some(url) => self
                .return_to
                .iter()
                .find(|allowed| allowed.as_str() == url)
                .map(String::as_str),
        }
    }

    /// Reads the providers named by `AUTHFN_FEDERATION_PROVIDERS` (see the module's table).
    pub fn from_settings(
        settings: &Settings<'_>,
        public_url: Option<&Url>,
    ) -> Result<Self, ConfigError> {
        let mut providers = BTreeMap::new();
        for raw in settings.list("AUTHFN_FEDERATION_PROVIDERS") {
            let name = ProviderName::parse(&raw).ok_or_else(|| {
                ConfigError::new(format!("AUTHFN_FEDERATION_PROVIDERS: {raw:?} is not a name of [a-z0-9-], at most 32 long"))
            })?;
            let provider = provider_from_settings(name.clone(), settings)?;
            providers.insert(name, provider);
        }
        if providers.is_empty() {
            return Ok(FederationConfig::default());
        }
        let public_url = public_url
            .ok_or_else(|| {
                ConfigError::new(
                    "AUTHFN_PUBLIC_URL is required when federation providers are configured",
                )
            })?
            .clone();
        settings.required(
            "AUTHFN_RETURN_TO",
            " when federation providers are configured",
        )?;
        let return_to = settings
            .list("AUTHFN_RETURN_TO")
            .into_iter()
            .map(|u| web_url("AUTHFN_RETURN_TO", &u).map(|_| u))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FederationConfig {
            providers,
            public_url: Some(public_url),
            return_to,
        })
    }
}

fn provider_from_settings(
    name: ProviderName,
    settings: &Settings<'_>,
) -> Result<ProviderConfig, ConfigError> {
    let prefix = name.env_prefix();
    let var = |suffix: &str| format!("{prefix}{suffix}");
    let required = |suffix: &str| settings.required(&var(suffix), "");
    let issuer = required("ISSUER")?;
    web_url(&var("ISSUER"), &issuer)?;
    let response_mode = match settings.get(&var("RESPONSE_MODE")).as_deref() {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            return Err(ConfigError::new(format!(
                "{prefix}RESPONSE_MODE must be query or form_post, got {other:?}"
            )));
        }
    };
    let link_by_email = settings.flag(&var("LINK_BY_EMAIL"), false)?;
    let scopes = Scope::of(
        settings
            .get(&var("SCOPES"))
            .as_deref()
            .unwrap_or("openid email profile")
            .split_whitespace(),
    );
    if !scopes.contains("openid") {
        return Err(ConfigError::new(format!(
            "{prefix}SCOPES must include openid"
        )));
    }
    // In the form `Email::domain` has (IDNA's ASCII form), so `bücher.de` matches too.
    let allowed_email_domains = settings
        .list(&var("ALLOWED_EMAIL_DOMAINS"))
        .iter()
        .map(|d| {
            crate::email::normalise_domain(d).ok_or_else(|| {
                ConfigError::new(format!(
                    "{prefix}ALLOWED_EMAIL_DOMAINS: {d:?} is not a domain"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProviderConfig {
        issuer: IssuerUrl(issuer),
        client_id: ClientId::new(required("CLIENT_ID")?),
        client_secret: ClientSecret::new(required("CLIENT_SECRET")?),
        scopes,
        response_mode,
        allowed_email_domains,
        link_by_email,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<FederationConfig, ConfigError> {
        let get = lookup(pairs);
        let settings = Settings::new(&get);
        FederationConfig::from_settings(
            &settings,
            settings.url("AUTHFN_PUBLIC_URL").unwrap().as_ref(),
        )
    }

    fn okta() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AUTHFN_FEDERATION_PROVIDERS", "okta"),
            ("AUTHFN_FEDERATION_OKTA_ISSUER", "https://example.okta.com"),
            ("AUTHFN_FEDERATION_OKTA_CLIENT_ID", "client"),
            (
                "AUTHFN_FEDERATION_OKTA_CLIENT_SECRET",
                "okta-client-secret-value",
            ),
            ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
            (
                "AUTHFN_RETURN_TO",
                "https://app.example.com/,https://app.example.com/settings",
            ),
        ]
    }

    #[test]
    fn reads_a_provider_with_safe_defaults() {
        let c = parse(&okta()).unwrap();
        let p = c.provider("okta").unwrap();
        assert_eq!(p.scopes.as_str(), "openid email profile");
        assert!(!p.link_by_email);
        assert_eq!(p.response_mode, ResponseMode::Query);
        assert_eq!(
            c.redirect_uri(&p.name),
            "https://auth.example.com/auth/federation/okta/callback"
        );
        assert_eq!(p.client_secret.secret(), "okta-client-secret-value");
        assert!(
            !format!("{c:?}").contains("okta-client-secret-value"),
            "Debug of the configuration shows the secret"
        );
    }

    #[test]
    fn return_to_matches_exactly_or_not_at_all() {
        let c = parse(&okta()).unwrap();
        assert_eq!(c.return_to(None), Some("https://app.example.com/"));
        assert_eq!(
            c.return_to(Some("https://app.example.com/settings")),
            Some("https://app.example.com/settings")
        );
        for hostile in [
            "https://app.example.com/settings/../../evil",
            "https://app.example.com.evil.com/",
            "https://app.example.com/settings?x=1",
            "//evil.com",
            "https://app.example.com/\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(c.return_to(Some(hostile)), None, "{hostile}");
        }
    }

    #[test]
    fn refuses_plain_http_issuers_except_loopback() {
        let mut pairs = okta();
        pairs[1] = ("AUTHFN_FEDERATION_OKTA_ISSUER", "http://example.okta.com");
        assert!(parse(&pairs).is_err());
        pairs[1] = ("AUTHFN_FEDERATION_OKTA_ISSUER", "http://127.0.0.1:4000");
        assert!(parse(&pairs).is_ok());
    }

    #[test]
    fn a_provider_without_its_secret_is_a_configuration_error() {
        let pairs: Vec<_> = okta()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("CLIENT_SECRET"))
            .collect();
        let err = parse(&pairs).unwrap_err();
        assert!(
            err.message()
                .contains("AUTHFN_FEDERATION_OKTA_CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn allowed_email_domains_compare_in_idna_form() {
        let mut pairs = okta();
        pairs.push((
            "AUTHFN_FEDERATION_OKTA_ALLOWED_EMAIL_DOMAINS",
            " Example.com , BÜCHER.example ",
        ));
        let c = parse(&pairs).unwrap();
        let p = c.provider("okta").unwrap();
        for allowed in [
            "a@example.com",
            "a@EXAMPLE.com",
            "a@bücher.example",
            "a@xn--bcher-kva.example",
        ] {
            assert!(p.allows_email(&Email::parse(allowed).unwrap()), "{allowed}");
        }
        for refused in [
            "a@sub.example.com",
            "a@example.com.evil.test",
            "a@bucher.example",
        ] {
            assert!(
                !p.allows_email(&Email::parse(refused).unwrap()),
                "{refused}"
            );
        }
        pairs.push((
            "AUTHFN_FEDERATION_OKTA_ALLOWED_EMAIL_DOMAINS",
            "exa_mple.com",
        ));
        let err = parse(&pairs).unwrap_err();
        assert!(err.message().contains("ALLOWED_EMAIL_DOMAINS"), "{err}");
    }

    #[test]
    fn provider_names_are_path_safe() {
        assert!(ProviderName::parse("azure-ad").is_some());
        for bad in ["", "Okta", "a/b", "a.b", &"x".repeat(33)] {
            assert!(ProviderName::parse(bad).is_none(), "{bad}");
        }
    }
}
