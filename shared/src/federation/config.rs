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

use crate::config::ConfigError;
use crate::email::Email;

/// A configured provider's name as it appears in the path: `[a-z0-9-]{1,32}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderName(String);

impl ProviderName {
    pub fn parse(name: &str) -> Option<Self> {
        let ok = (1..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| ProviderName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn env_prefix(&self) -> String {
        format!("AUTHFN_FEDERATION_{}_", self.0.to_ascii_uppercase().replace('-', "_"))
    }
}

/// An issuer identifier exactly as configured; the discovery document and every ID token must
/// name it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.0.trim_end_matches('/'))
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

impl ResponseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: ProviderName,
    pub issuer: IssuerUrl,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub scopes: String,
    pub response_mode: ResponseMode,
    /// Domains in IDNA's ASCII form; empty means any.
    pub allowed_email_domains: Vec<String>,
    pub link_by_email: bool,
}

impl ProviderConfig {
    pub fn allows_email(&self, email: &Email) -> bool {
        !self.restricts_email_domains() || self.allowed_email_domains.iter().any(|d| d == email.domain())
    }

    /// Whether only some email domains may sign in with this provider.
    pub fn restricts_email_domains(&self) -> bool {
        !self.allowed_email_domains.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct FederationConfig {
    pub providers: BTreeMap<ProviderName, ProviderConfig>,
    /// `{public_url}/auth/federation/{name}/callback` is each provider's redirect URI.
    pub public_url: Option<Url>,
    /// Exact URLs a sign-in may return to; the first is where it returns by default.
    pub return_to: Vec<String>,
}

impl FederationConfig {
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(&ProviderName::parse(name)?)
    }

    pub fn redirect_uri(&self, provider: &ProviderName) -> String {
        let base = self.public_url.as_ref().map(|u| u.as_str().trim_end_matches('/')).unwrap_or_default();
        format!("{base}/auth/federation/{}/callback", provider.as_str())
    }

    /// The allowed `return_to` equal to `requested`, or the default when none was asked for.
    /// Exact string equality: no prefix or pattern matching that an open redirect could slip
    /// through.
    pub fn return_to(&self, requested: Option<&str>) -> Option<&str> {
        match requested {
            None => self.return_to.first().map(String::as_str),
            Some(url) => self.return_to.iter().find(|allowed| allowed.as_str() == url).map(String::as_str),
        }
    }

    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>, public_url: Option<&Url>) -> Result<Self, ConfigError> {
        let Some(names) = get("AUTHFN_FEDERATION_PROVIDERS") else { return Ok(FederationConfig::default()) };
        let mut providers = BTreeMap::new();
        for raw in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = ProviderName::parse(raw).ok_or_else(|| {
                ConfigError(format!("AUTHFN_FEDERATION_PROVIDERS: {raw:?} is not a name of [a-z0-9-], at most 32 long"))
            })?;
            let provider = provider_from_lookup(name.clone(), get)?;
            providers.insert(name, provider);
        }
        if providers.is_empty() {
            return Ok(FederationConfig::default());
        }
        let public_url = public_url
            .ok_or_else(|| ConfigError("AUTHFN_PUBLIC_URL is required when federation providers are configured".into()))?
            .clone();
        let return_to = get("AUTHFN_RETURN_TO")
            .ok_or_else(|| ConfigError("AUTHFN_RETURN_TO is required when federation providers are configured".into()))?
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| web_url("AUTHFN_RETURN_TO", u).map(|_| u.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FederationConfig { providers, public_url: Some(public_url), return_to })
    }
}

fn provider_from_lookup(name: ProviderName, get: &dyn Fn(&str) -> Option<String>) -> Result<ProviderConfig, ConfigError> {
    let prefix = name.env_prefix();
    let required = |suffix: &str| {
        get(&format!("{prefix}{suffix}")).ok_or_else(|| ConfigError(format!("{prefix}{suffix} is required")))
    };
    let issuer = required("ISSUER")?;
    web_url(&format!("{prefix}ISSUER"), &issuer)?;
    let response_mode = match get(&format!("{prefix}RESPONSE_MODE")).as_deref() {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => return Err(ConfigError(format!("{prefix}RESPONSE_MODE must be query or form_post, got {other:?}"))),
    };
    let link_by_email = match get(&format!("{prefix}LINK_BY_EMAIL")).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ConfigError(format!("{prefix}LINK_BY_EMAIL must be true or false, got {other:?}"))),
    };
    let scopes = get(&format!("{prefix}SCOPES")).unwrap_or_else(|| "openid email profile".into());
    if !scopes.split_whitespace().any(|s| s == "openid") {
        return Err(ConfigError(format!("{prefix}SCOPES must include openid")));
    }
    // In the form `Email::domain` has (IDNA's ASCII form), so `bücher.de` matches too.
    let allowed_email_domains = get(&format!("{prefix}ALLOWED_EMAIL_DOMAINS"))
        .map(|list| {
            list.split(',')
                .filter(|d| !d.trim().is_empty())
                .map(|d| {
                    crate::email::normalise_domain(d)
                        .ok_or_else(|| ConfigError(format!("{prefix}ALLOWED_EMAIL_DOMAINS: {d:?} is not a domain")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(ProviderConfig {
        issuer: IssuerUrl(issuer),
        client_id: required("CLIENT_ID")?,
        client_secret: ClientSecret(required("CLIENT_SECRET")?),
        scopes,
        response_mode,
        allowed_email_domains,
        link_by_email,
        name,
    })
}

/// An absolute https URL, or http on a loopback host (local test providers and dev servers).
pub(crate) fn web_url(setting: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError(format!("{setting}: {value:?} is not a URL: {e}")))?;
    if !is_web_url(&url) {
        return Err(ConfigError(format!("{setting}: {value:?} must be https (http only on a loopback host)")));
    }
    Ok(url)
}

pub(crate) fn is_web_url(url: &Url) -> bool {
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    !url.cannot_be_a_base()
        && url.username().is_empty()
        && url.password().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<FederationConfig, ConfigError> {
        let get = lookup(pairs);
        let public = get("AUTHFN_PUBLIC_URL").map(|u| web_url("AUTHFN_PUBLIC_URL", &u).unwrap());
        FederationConfig::from_lookup(&get, public.as_ref())
    }

    fn okta() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AUTHFN_FEDERATION_PROVIDERS", "okta"),
            ("AUTHFN_FEDERATION_OKTA_ISSUER", "https://example.okta.com"),
            ("AUTHFN_FEDERATION_OKTA_CLIENT_ID", "client"),
            ("AUTHFN_FEDERATION_OKTA_CLIENT_SECRET", "secret"),
            ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
            ("AUTHFN_RETURN_TO", "https://app.example.com/,https://app.example.com/settings"),
        ]
    }

    #[test]
    fn reads_a_provider_with_safe_defaults() {
        let c = parse(&okta()).unwrap();
        let p = c.provider("okta").unwrap();
        assert_eq!(p.scopes, "openid email profile");
        assert!(!p.link_by_email);
        assert_eq!(p.response_mode, ResponseMode::Query);
        assert_eq!(c.redirect_uri(&p.name), "https://auth.example.com/auth/federation/okta/callback");
        assert!(!format!("{p:?}").contains("secret\""));
    }

    #[test]
    fn return_to_matches_exactly_or_not_at_all() {
        let c = parse(&okta()).unwrap();
        assert_eq!(c.return_to(None), Some("https://app.example.com/"));
        assert_eq!(c.return_to(Some("https://app.example.com/settings")), Some("https://app.example.com/settings"));
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
        let pairs: Vec<_> = okta().into_iter().filter(|(k, _)| !k.ends_with("CLIENT_SECRET")).collect();
        let err = parse(&pairs).unwrap_err();
        assert!(err.0.contains("AUTHFN_FEDERATION_OKTA_CLIENT_SECRET"), "{err}");
    }

    #[test]
    fn allowed_email_domains_compare_in_idna_form() {
        let mut pairs = okta();
        pairs.push(("AUTHFN_FEDERATION_OKTA_ALLOWED_EMAIL_DOMAINS", " Example.com , BÜCHER.example "));
        let c = parse(&pairs).unwrap();
        let p = c.provider("okta").unwrap();
        for allowed in ["a@example.com", "a@EXAMPLE.com", "a@bücher.example", "a@xn--bcher-kva.example"] {
            assert!(p.allows_email(&Email::parse(allowed).unwrap()), "{allowed}");
        }
        for refused in ["a@sub.example.com", "a@example.com.evil.test", "a@bucher.example"] {
            assert!(!p.allows_email(&Email::parse(refused).unwrap()), "{refused}");
        }
        pairs.push(("AUTHFN_FEDERATION_OKTA_ALLOWED_EMAIL_DOMAINS", "exa_mple.com"));
        let err = parse(&pairs).unwrap_err();
        assert!(err.0.contains("ALLOWED_EMAIL_DOMAINS"), "{err}");
    }

    #[test]
    fn provider_names_are_path_safe() {
        assert!(ProviderName::parse("azure-ad").is_some());
        for bad in ["", "Okta", "a/b", "a.b", &"x".repeat(33)] {
            assert!(ProviderName::parse(bad).is_none(), "{bad}");
        }
    }
}
