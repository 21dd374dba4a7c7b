//! The token issuer as its clients use it: a CLI (the public client `cli`) that runs the device
//! flow and refreshes, a resource server (the confidential client `resource-server`) that
//! introspects, and the signed-in user who answers on the device page.

use http::StatusCode;
use serde_json::Value;

use super::{Harness, PASSWORD, Res, key_b64};

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The resource server's client secret: as strong as the issuer demands.
pub const RS_SECRET: &str = "Vt3nqM0b6y1XwZ8sKc2LrA5dEf7gHi9jJk4lNo_pQ-u";
/// The issuer's defaults that the tests walk the clock past.
pub const ACCESS_TOKEN_SECS: u64 = 600;
pub const DEVICE_CODE_SECS: u64 = 600;
pub const DEVICE_INTERVAL_SECS: u64 = 5;

/// The decoded claims (`index` 1) or header (0) of a JWT.
pub fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT has three parts");
    serde_json::from_slice(&authfn::crypto::b64url_decode(part).expect("base64url")).expect("JSON")
}

/// What a token request answered, with its string fields at hand.
pub struct Tokens(pub Value);

impl Tokens {
    pub fn access(&self) -> &str {
        self.0["access_token"].as_str().expect("an access token")
    }

    pub fn refresh(&self) -> &str {
        self.0["refresh_token"].as_str().expect("a refresh token (offline_access)")
    }
}

impl Harness {
    /// The same store and clock with the token issuer switched on.
    pub fn issuer(&self, overrides: &[(&str, &str)]) -> Harness {
        let key = key_b64(5);
        let mut settings = vec![
            ("AUTHFN_PUBLIC_URL", "https://auth.example.com"),
            ("AUTHFN_OAUTH_CLIENTS", "cli,resource-server"),
            ("AUTHFN_OAUTH_CLIENT_RESOURCE_SERVER_SECRET", RS_SECRET),
            ("AUTHFN_JWT_KEYS", key.as_str()),
        ];
        settings.extend_from_slice(overrides);
        self.reconfigure(&settings)
    }

    /// A form POST as an OAuth client sends it: no Origin, no cookie.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Res {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.request("POST", path, body.into_bytes(), Some(FORM), None, vec![]).await
    }

    /// A device asks to be signed in as `cli`; the answer's JSON.
    pub async fn device_authorize(&self, scope: &str) -> Value {
        let res = self.form("/oidc/device/authorize", &[("client_id", "cli"), ("scope", scope)]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.json
    }

    /// The device polls the token endpoint with its code.
    pub async fn poll(&self, device_code: &str) -> Res {
        self.form("/oidc/token", &[("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", "cli")]).await
    }

    /// The device page as the browser with `cookie` shows it for `user_code`.
    pub async fn device_page(&self, cookie: Option<&str>, user_code: &str) -> Res {
        let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("user_code", user_code).finish();
        self.get(&format!("/oidc/device?{query}"), cookie).await
    }

    /// The signed-in user's answer (`approve` or `deny`), as the device page's form posts it.
    pub async fn answer(&self, cookie: &str, user_code: &str, decision: &str) -> Res {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("user_code", user_code), ("decision", decision)])
            .finish();
        self.post_raw("/oidc/device/verify", body.into_bytes(), FORM, Some(cookie)).await
    }

    /// The CLI trades a refresh token for new tokens.
    pub async fn refresh(&self, refresh_token: &str) -> Res {
        self.form("/oidc/token", &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", "cli")]).await
    }

    /// What the resource server learns of `token` by introspection.
    pub async fn introspect(&self, token: &str) -> Value {
        let pairs = [("token", token), ("client_id", "resource-server"), ("client_secret", RS_SECRET)];
        let res = self.form("/oidc/introspect", &pairs).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.json
    }

    /// `GET /oidc/userinfo` with `access_token` as the Bearer.
    pub async fn userinfo(&self, access_token: &str) -> Res {
        let bearer = format!("Bearer {access_token}");
        self.request("GET", "/oidc/userinfo", vec![], None, None, vec![("authorization", bearer.as_str())]).await
    }

    /// The whole device flow for a new user `email`: the device asks for `scope`, the user
    /// approves in the browser, the device's next poll gets the tokens.
    pub async fn device_tokens(&self, email: &str, scope: &str) -> Tokens {
        let cookie = self.sign_up(email, PASSWORD).await.cookie();
        let asked = self.device_authorize(scope).await;
        let approved = self.answer(&cookie, asked["user_code"].as_str().expect("user_code"), "approve").await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        let tokens = self.poll(asked["device_code"].as_str().expect("device_code")).await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
        Tokens(tokens.json)
    }
}
