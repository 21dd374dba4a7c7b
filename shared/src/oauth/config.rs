//! The token issuer's settings.
//!
//! | variable | default |
//! |---|---|
//! | `AUTHFN_OAUTH_CLIENTS` | none (the issuer is off): comma-separated client ids, e.g. `cli,mobile` |
//! | `AUTHFN_OAUTH_CLIENT_<ID>_SECRET` | unset (a public client); set for a confidential client (resource servers calling introspection): at least 32 random bytes, e.g. from `infra/generate-keys.sh` |
//! | `AUTHFN_OAUTH_CLIENT_NAMES` | each client's id: what the device page calls it, e.g. `cli=Acme CLI,mobile=Acme for iOS` |
//! | `AUTHFN_JWT_KEYS` | required with clients: comma-separated base64url Ed25519 seeds, signing key first (a secret) |
//! | `AUTHFN_JWT_PUBLIC_KEYS` | instead of `AUTHFN_JWT_KEYS` where a function only publishes or checks keys: their public halves, same order (not a secret); the Worker, which signs, takes them only beside `AUTHFN_JWT_KEYS` |
//! | `AUTHFN_JWT_RSA_KEY` | unset (ID tokens EdDSA): comma-separated base64url PKCS#1 DER RSA keys, signing key first; ID tokens are then RS256 (a secret) |
//! | `AUTHFN_JWT_RSA_PUBLIC_KEY` | instead of `AUTHFN_JWT_RSA_KEY` where a function only publishes keys: their public halves (PKCS#1 DER), same order (not a secret) |
//! | `AUTHFN_PUBLIC_URL` | required with clients: the issuer identifier, e.g. `https://auth.example.com` |
//! | `AUTHFN_OAUTH_SCOPES` | `openid profile email offline_access` |
//! | `AUTHFN_ACCESS_TOKEN_AUDIENCE` | the issuer |
//! | `AUTHFN_ACCESS_TOKEN_SECS` / `AUTHFN_REFRESH_TOKEN_SECS` / `AUTHFN_REFRESH_FAMILY_SECS` | 600 / 2592000 (30 d) / 7776000 (90 d) |
//! | `AUTHFN_DEVICE_CODE_SECS` / `AUTHFN_DEVICE_INTERVAL_SECS` | 600 / 5 |
//! | `AUTHFN_SIGN_IN_URL` | `/` (the dev server's demo page): where the device page sends signed-out users, with `?return_to=` |

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use super::keys::JwtKeys;
use crate::protocol::{ClientId, Scope};
use crate::settings::{ConfigError, Settings};
use crate::token::TokenHash;

/// A client of the token issuer.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// The id the client identifies itself with (`client_id`).
    pub id: ClientId,
    /// SHA-256 of a confidential client's secret; `None` for a public client.
    pub secret_hash: Option<TokenHash>,
    /// What the device page calls the client.
    pub display_name: String,
}

/// The token issuer: who it is, its keys and clients, and how long what it issues lasts.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The issuer identifier: `AUTHFN_PUBLIC_URL` without a trailing slash.
    pub issuer: String,
    /// The keys tokens are signed with and the JWKS publishes.
    pub keys: JwtKeys,
    /// Every client that may ask for tokens, by id.
    pub clients: BTreeMap<ClientId, OAuthClient>,
    /// Every scope a client may ask for.
    pub scopes: Scope,
    /// The `aud` of every access token (`AUTHFN_ACCESS_TOKEN_AUDIENCE`, by default the issuer).
    pub audience: String,
    /// How long an access token is valid.
    pub access_token_lifetime: Duration,
    /// How long a refresh token is valid unused; each use rotates it.
    pub refresh_token_lifetime: Duration,
    /// A refresh-token family's absolute end, however often it rotates.
    pub refresh_family_lifetime: Duration,
    /// How long a device code waits for the user to approve it.
    pub device_code_lifetime: Duration,
    /// The device grant's polling interval before any `slow_down`.
    pub device_interval: Duration,
    /// Where the device page sends a signed-out user, with a `return_to` parameter back to it.
    pub sign_in_url: String,
}

/// A client secret must be as strong as 32 random bytes: with it, online guessing is hopeless
/// whatever the rate limits, and an offline attack on its stored SHA-256 is too.
const MIN_SECRET_BITS: usize = 256;

/// An upper bound on the randomness a secret can carry: its length times the bits of the
/// smallest usual alphabet (hex, base64url/base64, printable ASCII) that spells it. A secret
/// that repeats itself (few distinct characters) counts as nothing.
fn secret_bits(secret: &str) -> usize {
    // Up to the eight that matter, without a set (which would sort: code the Worker carries).
    let mut distinct: Vec<char> = Vec::with_capacity(8);
    for c in secret.chars() {
        if distinct.len() == 8 {
            break;
        }
        if !distinct.contains(&c) {
            distinct.push(c);
        }
    }
    if distinct.len() < 8 {
        return 0;
    }
    let per_char = if secret.chars().all(|c| c.is_ascii_hexdigit()) {
        4
    } else if secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_+/=".contains(c))
    {
        6
    } else if secret.chars().all(|c| c.is_ascii_graphic()) {
        // 94 printable characters: a little over 6.5 bits, rounded down.
        6
    } else {
        return 0;
    };
    secret.trim_end_matches('=').chars().count() * per_char
}

impl OAuthConfig {
    /// The issuer's settings; `None` (the issuer is off) without `AUTHFN_OAUTH_CLIENTS`.
    pub fn from_settings(
        settings: &Settings<'_>,
        public_url: Option<&Url>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| settings.get(name);
        let mut clients = BTreeMap::new();
        for id in settings.list("AUTHFN_OAUTH_CLIENTS") {
            let id = id.as_str();
            let ok = id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ConfigError::new(format!(
                    "AUTHFN_OAUTH_CLIENTS: {id:?} is not an id of [A-Za-z0-9_-]"
                )));
            }
            let secret_var = format!(
                "AUTHFN_OAUTH_CLIENT_{}_SECRET",
                id.to_ascii_uppercase().replace('-', "_")
            );
            let secret_hash = match get(&secret_var) {
                Some(secret) if secret_bits(&secret) < MIN_SECRET_BITS => {
                    return Err(ConfigError::new(format!(
                        "{secret_var} is too weak to hold 32 random bytes: use at least 43 base64url characters or 64 hex digits (infra/generate-keys.sh makes one)"
                    )));
                }
                Some(secret) => Some(TokenHash::of(secret.as_bytes())),
                None => None,
            };
            clients.insert(
                ClientId::new(id),
                OAuthClient {
                    id: ClientId::new(id),
                    secret_hash,
                    display_name: id.to_owned(),
                },
            );
        }
        if clients.is_empty() {
            return Ok(None);
        }
        for pair in settings.list("AUTHFN_OAUTH_CLIENT_NAMES") {
            let bad = || {
                ConfigError::new(format!(
                    "AUTHFN_OAUTH_CLIENT_NAMES: {pair:?} is not id=Name for a configured client"
                ))
            };
            let (id, name) = pair.split_once('=').ok_or_else(bad)?;
            let client = clients.get_mut(id.trim()).ok_or_else(bad)?;
            name.trim().clone_into(&mut client.display_name);
        }
        let issuer = public_url
            .ok_or_else(|| {
                ConfigError::new("AUTHFN_PUBLIC_URL is required when AUTHFN_OAUTH_CLIENTS is set")
            })?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let keys = jwt_keys(&get)?;
        let secs =
            |name: &str, default: u64| settings.positive_secs(name, Duration::from_secs(default));
        let scopes = Scope::of(
            get("AUTHFN_OAUTH_SCOPES")
                .as_deref()
                .unwrap_or("openid profile email offline_access")
                .split_whitespace(),
        );
        Ok(Some(OAuthConfig {
            audience: get("AUTHFN_ACCESS_TOKEN_AUDIENCE").unwrap_or_else(|| issuer.clone()),
            access_token_lifetime: secs("AUTHFN_ACCESS_TOKEN_SECS", 600)?,
            refresh_token_lifetime: secs("AUTHFN_REFRESH_TOKEN_SECS", 30 * 24 * 3600)?,
            refresh_family_lifetime: secs("AUTHFN_REFRESH_FAMILY_SECS", 90 * 24 * 3600)?,
            device_code_lifetime: secs("AUTHFN_DEVICE_CODE_SECS", 600)?,
            device_interval: secs("AUTHFN_DEVICE_INTERVAL_SECS", 5)?,
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

/// The signing keys when given; else their public halves. Given both, they must be the same
/// keys, so a public-keys setting left behind by a rotation is caught at start-up. The same
/// holds for the optional RS256 ID-token keys.
fn jwt_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<JwtKeys, ConfigError> {
    let public = get("AUTHFN_JWT_PUBLIC_KEYS")
        .map(|v| JwtKeys::parse_public(&v).map_err(ConfigError::new))
        .transpose()?;
    let keys = match get("AUTHFN_JWT_KEYS") {
        // The Worker serves the token endpoint, so it signs; and it checks public keys only
        // against the halves it derives from the seeds (oauth/keys.rs).
        None if cfg!(target_arch = "wasm32") => {
            return Err(ConfigError::new(
                "AUTHFN_JWT_KEYS is required when AUTHFN_OAUTH_CLIENTS is set: the Worker signs tokens",
            ));
        }
        None => public.ok_or_else(|| {
            ConfigError::new("AUTHFN_JWT_KEYS (or, where a function only publishes keys, AUTHFN_JWT_PUBLIC_KEYS) is required when AUTHFN_OAUTH_CLIENTS is set")
        })?,
        Some(seeds) => {
            let keys = JwtKeys::parse(&seeds).map_err(ConfigError::new)?;
            if public.is_some_and(|p| p.kids() != keys.kids()) {
                return Err(ConfigError::new("AUTHFN_JWT_PUBLIC_KEYS are not the public halves of AUTHFN_JWT_KEYS (infra/generate-keys.sh --public)"));
            }
            keys
        }
    };
    let rsa_public = get("AUTHFN_JWT_RSA_PUBLIC_KEY");
    match get("AUTHFN_JWT_RSA_KEY") {
        None => match rsa_public {
            None => Ok(keys),
            Some(public) => keys.with_rsa_public(&public).map_err(ConfigError::new),
        },
        Some(private) => {
            let keys = keys.with_rsa(&private).map_err(ConfigError::new)?;
            if let Some(public) = rsa_public {
                let public = keys
                    .clone()
                    .with_rsa_public(&public)
                    .map_err(ConfigError::new)?;
                if public.rsa_kids() != keys.rsa_kids() {
                    return Err(ConfigError::new(
                        "AUTHFN_JWT_RSA_PUBLIC_KEY is not the public half of AUTHFN_JWT_RSA_KEY (infra/generate-keys.sh --rsa-public)",
                    ));
                }
            }
            Ok(keys)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use std::collections::HashMap;

    /// An issuer with signing keys and these settings.
    fn config(pairs: &[(&str, &str)]) -> Result<Option<OAuthConfig>, ConfigError> {
        let keys = b64url(&[3; 32]);
        issuer(&[pairs, &[("AUTHFN_JWT_KEYS", keys.as_str())]].concat())
    }

    #[test]
    fn clients_are_shown_by_their_configured_names() {
        let c = config(&[
            ("AUTHFN_OAUTH_CLIENTS", "cli,mobile"),
            ("AUTHFN_OAUTH_CLIENT_NAMES", "cli = Acme CLI"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.clients[&ClientId::new("cli")].display_name, "Acme CLI");
        assert_eq!(
            c.clients[&ClientId::new("mobile")].display_name,
            "mobile",
            "the id by default"
        );
        for bad in ["nobody=Someone", "cli"] {
            assert!(
                config(&[
                    ("AUTHFN_OAUTH_CLIENTS", "cli"),
                    ("AUTHFN_OAUTH_CLIENT_NAMES", bad)
                ])
                .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn client_secrets_must_hold_32_random_bytes() {
        let b64 = b64url(&[0x5a, 0x13, 0x77, 0x21, 0xc4, 0x9e, 0x02, 0xf0].repeat(4));
        assert_eq!(b64.len(), 43);
        assert!(secret_bits(&b64) >= MIN_SECRET_BITS, "32 bytes, base64url");
        assert!(secret_bits(&b64[..42]) < MIN_SECRET_BITS, "31.5 bytes");
        assert!(
            secret_bits(&"0123456789abcdef".repeat(4)) >= MIN_SECRET_BITS,
            "64 hex digits"
        );
        assert!(secret_bits(&"0123456789abcdef".repeat(4)[..63]) < MIN_SECRET_BITS);
        assert!(
            secret_bits(&"a".repeat(100)) < MIN_SECRET_BITS,
            "repetition is not randomness"
        );
        assert!(secret_bits("hunter2-hunter2-hunter2") < MIN_SECRET_BITS);
    }

    fn issuer(pairs: &[(&str, &str)]) -> Result<Option<OAuthConfig>, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        let url = Url::parse("https://auth.example.com").unwrap();
        OAuthConfig::from_settings(
            &Settings::new(&|name| map.get(name).map(|v| v.to_string())),
            Some(&url),
        )
    }

    fn public_of(seeds: &str) -> String {
        let keys = JwtKeys::parse(seeds).unwrap();
        let jwks = keys.jwks();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["x"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn a_function_with_public_keys_only_has_an_issuer_that_cannot_sign() {
        let seeds = format!("{},{}", b64url(&[1; 32]), b64url(&[2; 32]));
        let public = public_of(&seeds);
        let publishing = issuer(&[
            ("AUTHFN_OAUTH_CLIENTS", "cli"),
            ("AUTHFN_JWT_PUBLIC_KEYS", &public),
        ])
        .unwrap()
        .unwrap();
        assert!(!publishing.has_secrets());
        let signing = issuer(&[
            ("AUTHFN_OAUTH_CLIENTS", "cli"),
            ("AUTHFN_JWT_KEYS", &seeds),
            ("AUTHFN_JWT_PUBLIC_KEYS", &public),
        ])
        .unwrap()
        .unwrap();
        assert!(signing.has_secrets());
        assert_eq!(publishing.keys.jwks(), signing.keys.jwks());
    }

    #[test]
    fn public_keys_that_are_not_the_seeds_halves_are_refused() {
        let seeds = b64url(&[1; 32]);
        let other = public_of(&b64url(&[3; 32]));
        let err = issuer(&[
            ("AUTHFN_OAUTH_CLIENTS", "cli"),
            ("AUTHFN_JWT_KEYS", &seeds),
            ("AUTHFN_JWT_PUBLIC_KEYS", &other),
        ])
        .unwrap_err();
        assert!(err.message().contains("AUTHFN_JWT_PUBLIC_KEYS"), "{err}");
        let err = issuer(&[("AUTHFN_OAUTH_CLIENTS", "cli")]).unwrap_err();
        assert!(err.message().contains("AUTHFN_JWT_KEYS"), "{err}");
    }
}
