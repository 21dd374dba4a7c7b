//! The token issuer's settings.
//!
//! | variable | default |
//! |---|---|
//! | `AUTHFN_OAUTH_CLIENTS` | none (the issuer is off): comma-separated client ids, e.g. `cli,mobile` |
//! | `AUTHFN_OAUTH_CLIENT_<ID>_SECRET` | unset (a public client); set for a confidential client (resource servers calling introspection) |
//! | `AUTHFN_JWT_KEYS` | required with clients: comma-separated base64url Ed25519 seeds, signing key first (a secret) |
//! | `AUTHFN_JWT_PUBLIC_KEYS` | instead of `AUTHFN_JWT_KEYS` where a function only publishes or checks keys: their public halves, same order (not a secret) |
//! | `AUTHFN_PUBLIC_URL` | required with clients: the issuer identifier, e.g. `https://auth.example.com` |
//! | `AUTHFN_OAUTH_SCOPES` | `openid profile email offline_access` |
//! | `AUTHFN_ACCESS_TOKEN_AUDIENCE` | the issuer |
//! | `AUTHFN_ACCESS_TOKEN_SECS` / `AUTHFN_REFRESH_TOKEN_SECS` / `AUTHFN_REFRESH_FAMILY_SECS` | 600 / 2592000 (30 d) / 7776000 (90 d) |
//! | `AUTHFN_DEVICE_CODE_SECS` / `AUTHFN_DEVICE_INTERVAL_SECS` | 600 / 5 |
//! | `AUTHFN_SIGN_IN_URL` | `/` (the dev server's demo page): where the device page sends signed-out users, with `?return_to=` |

use std::collections::BTreeMap;

use url::Url;

use super::keys::JwtKeys;
use crate::config::ConfigError;
use crate::token::TokenHash;

#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: String,
    /// SHA-256 of a confidential client's secret; `None` for a public client.
    pub secret_hash: Option<TokenHash>,
}

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The issuer identifier: `AUTHFN_PUBLIC_URL` without a trailing slash.
    pub issuer: String,
    pub keys: JwtKeys,
    pub clients: BTreeMap<String, OAuthClient>,
    pub scopes: Vec<String>,
    pub audience: String,
    pub access_token_secs: i64,
    pub refresh_token_secs: i64,
    pub refresh_family_secs: i64,
    pub device_code_secs: i64,
    pub device_interval_secs: u64,
    pub sign_in_url: String,
}

impl OAuthConfig {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>, public_url: Option<&Url>) -> Result<Option<Self>, ConfigError> {
        let Some(ids) = get("AUTHFN_OAUTH_CLIENTS") else { return Ok(None) };
        let mut clients = BTreeMap::new();
        for id in ids.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let ok = id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ConfigError(format!("AUTHFN_OAUTH_CLIENTS: {id:?} is not an id of [A-Za-z0-9_-]")));
            }
            let secret_var = format!("AUTHFN_OAUTH_CLIENT_{}_SECRET", id.to_ascii_uppercase().replace('-', "_"));
            let secret_hash = get(&secret_var).map(|s| TokenHash::of(s.as_bytes()));
            clients.insert(id.to_owned(), OAuthClient { id: id.to_owned(), secret_hash });
        }
        if clients.is_empty() {
            return Ok(None);
        }
        let issuer = public_url
            .ok_or_else(|| ConfigError("AUTHFN_PUBLIC_URL is required when AUTHFN_OAUTH_CLIENTS is set".into()))?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let keys = jwt_keys(get)?;
        let secs = |name: &str, default: i64| -> Result<i64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError(format!("{name} must be a positive number of seconds, got {v:?}"))),
            }
        };
        let scopes = get("AUTHFN_OAUTH_SCOPES")
            .unwrap_or_else(|| "openid profile email offline_access".into())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Some(OAuthConfig {
            audience: get("AUTHFN_ACCESS_TOKEN_AUDIENCE").unwrap_or_else(|| issuer.clone()),
            access_token_secs: secs("AUTHFN_ACCESS_TOKEN_SECS", 600)?,
            refresh_token_secs: secs("AUTHFN_REFRESH_TOKEN_SECS", 30 * 24 * 3600)?,
            refresh_family_secs: secs("AUTHFN_REFRESH_FAMILY_SECS", 90 * 24 * 3600)?,
            device_code_secs: secs("AUTHFN_DEVICE_CODE_SECS", 600)?,
            device_interval_secs: secs("AUTHFN_DEVICE_INTERVAL_SECS", 5)? as u64,
            sign_in_url: get("AUTHFN_SIGN_IN_URL").unwrap_or_else(|| "/".into()),
            issuer,
            keys,
            clients,
            scopes,
        }))
    }

    /// Whether this function was given the issuer's secrets (`AUTHFN_JWT_KEYS` and the
    /// client secrets, which a deployment keeps together) rather than the public keys only.
    pub fn has_secrets(&self) -> bool {
        self.keys.can_sign()
    }

    /// The issuer's URL for one of its endpoints.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The signing seeds when given; else the public keys. Given both, they must be the same keys,
/// so a public-keys setting left behind by a rotation is caught at start-up.
fn jwt_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<JwtKeys, ConfigError> {
    let public = get("AUTHFN_JWT_PUBLIC_KEYS").map(|v| JwtKeys::parse_public(&v).map_err(ConfigError)).transpose()?;
    let Some(seeds) = get("AUTHFN_JWT_KEYS") else {
        return public.ok_or_else(|| {
            ConfigError("AUTHFN_JWT_KEYS (or, where a function only publishes keys, AUTHFN_JWT_PUBLIC_KEYS) is required when AUTHFN_OAUTH_CLIENTS is set".into())
        });
    };
    let keys = JwtKeys::parse(&seeds).map_err(ConfigError)?;
    if public.is_some_and(|p| p.kids() != keys.kids()) {
        return Err(ConfigError("AUTHFN_JWT_PUBLIC_KEYS are not the public halves of AUTHFN_JWT_KEYS (infra/generate-keys.sh --public)".into()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use std::collections::HashMap;

    fn issuer(pairs: &[(&str, &str)]) -> Result<Option<OAuthConfig>, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        let url = Url::parse("https://auth.example.com").unwrap();
        OAuthConfig::from_lookup(&|name| map.get(name).map(|v| v.to_string()), Some(&url))
    }

    fn public_of(seeds: &str) -> String {
        let keys = JwtKeys::parse(seeds).unwrap();
        let jwks = keys.jwks();
        jwks["keys"].as_array().unwrap().iter().map(|k| k["x"].as_str().unwrap().to_owned()).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn a_function_with_public_keys_only_has_an_issuer_that_cannot_sign() {
        let seeds = format!("{},{}", b64url(&[1; 32]), b64url(&[2; 32]));
        let public = public_of(&seeds);
        let publishing = issuer(&[("AUTHFN_OAUTH_CLIENTS", "cli"), ("AUTHFN_JWT_PUBLIC_KEYS", &public)]).unwrap().unwrap();
        assert!(!publishing.has_secrets());
        let signing = issuer(&[("AUTHFN_OAUTH_CLIENTS", "cli"), ("AUTHFN_JWT_KEYS", &seeds), ("AUTHFN_JWT_PUBLIC_KEYS", &public)]).unwrap().unwrap();
        assert!(signing.has_secrets());
        assert_eq!(publishing.keys.jwks(), signing.keys.jwks());
    }

    #[test]
    fn public_keys_that_are_not_the_seeds_halves_are_refused() {
        let seeds = b64url(&[1; 32]);
        let other = public_of(&b64url(&[3; 32]));
        let err = issuer(&[("AUTHFN_OAUTH_CLIENTS", "cli"), ("AUTHFN_JWT_KEYS", &seeds), ("AUTHFN_JWT_PUBLIC_KEYS", &other)]).unwrap_err();
        assert!(err.0.contains("AUTHFN_JWT_PUBLIC_KEYS"), "{err}");
        let err = issuer(&[("AUTHFN_OAUTH_CLIENTS", "cli")]).unwrap_err();
        assert!(err.0.contains("AUTHFN_JWT_KEYS"), "{err}");
    }
}
