//! The token issuer's settings.
//!
//! | variable | default |
//! |---|---|
//! | `AUTHFN_OAUTH_CLIENTS` | none (the issuer is off): comma-separated client ids, e.g. `cli,mobile` |
//! | `AUTHFN_OAUTH_CLIENT_<ID>_SECRET` | unset (a public client); set for a confidential client (resource servers calling introspection) |
//! | `AUTHFN_JWT_KEYS` | required with clients: comma-separated base64url Ed25519 seeds, signing key first (a secret) |
//! | `AUTHFN_JWT_RSA_KEY` | unset (ID tokens EdDSA): comma-separated base64url PKCS#1 DER RSA keys, signing key first; ID tokens are then RS256 (a secret) |
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
        let mut keys = JwtKeys::parse(
            &get("AUTHFN_JWT_KEYS")
                .ok_or_else(|| ConfigError("AUTHFN_JWT_KEYS is required when AUTHFN_OAUTH_CLIENTS is set".into()))?,
        )
        .map_err(ConfigError)?;
        if let Some(rsa) = get("AUTHFN_JWT_RSA_KEY") {
            keys = keys.with_rsa(&rsa).map_err(ConfigError)?;
        }
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

    /// The issuer's URL for one of its endpoints.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}
