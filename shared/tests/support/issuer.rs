//! The token issuer as its clients use it: a CLI (the public client `cli`) that runs the device
//! flow and refreshes, a resource server (the confidential client `resource-server`) that
//! introspects, and the signed-in user who answers on the device page.

use http::StatusCode;
use serde_json::Value;

use super::{CLIENT_IP, Harness, PASSWORD, Res, key_b64};

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The resource server's client secret: as strong as the issuer demands.
pub const RS_SECRET: &str = "Vt3nqM0b6y1XwZ8sKc2LrA5dEf7gHi9jJk4lNo_pQ-u";
/// The issuer's defaults that the tests walk the clock past.
pub const ACCESS_TOKEN_SECS: u64 = 600;
pub const DEVICE_CODE_SECS: u64 = 600;
pub const DEVICE_INTERVAL_SECS: u64 = 5;

/// The settings that switch the token issuer on: the public client `cli` and the confidential
/// client `resource-server`.
pub fn issuer_settings() -> Vec<(&'static str, String)> {
    vec![
        ("AUTHFN_PUBLIC_URL", "https://auth.example.com".into()),
        ("AUTHFN_OAUTH_CLIENTS", "cli,resource-server".into()),
        (
            "AUTHFN_OAUTH_CLIENT_RESOURCE_SERVER_SECRET",
            RS_SECRET.into(),
        ),
        ("AUTHFN_JWT_KEYS", key_b64(5)),
    ]
}

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
        self.0["refresh_token"]
            .as_str()
            .expect("a refresh token (offline_access)")
    }

    pub fn id(&self) -> &str {
        self.0["id_token"].as_str().expect("an ID token (openid)")
    }
}

impl Harness {
    /// The same store and clock with the token issuer switched on.
    pub fn issuer(&self, overrides: &[(&str, &str)]) -> Harness {
        let base = issuer_settings();
        let mut settings: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
        settings.extend_from_slice(overrides);
        self.reconfigure(&settings)
    }

    /// A form POST as an OAuth client sends it: no Origin, no cookie.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Res {
        self.form_from(CLIENT_IP, path, pairs, vec![]).await
    }

    /// A form POST as an OAuth client at `ip` sends it, with extra `headers`.
    pub async fn form_from(
        &self,
        ip: &str,
        path: &str,
        pairs: &[(&str, &str)],
        headers: Vec<(&str, &str)>,
    ) -> Res {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.request_from(
            ip,
            "POST",
            path,
            body.into_bytes(),
            Some(FORM),
            None,
            headers,
        )
        .await
    }

    /// A device asks to be signed in as `cli`; the answer's JSON.
    pub async fn device_authorize(&self, scope: &str) -> Value {
        self.device_authorize_from(CLIENT_IP, scope).await
    }

    /// A device at `ip` asks to be signed in as `cli`; the answer's JSON.
    pub async fn device_authorize_from(&self, ip: &str, scope: &str) -> Value {
        let res = self
            .form_from(
                ip,
                "/oidc/device/authorize",
                &[("client_id", "cli"), ("scope", scope)],
                vec![],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.json
    }

    /// The device polls the token endpoint with its code.
    pub async fn poll(&self, device_code: &str) -> Res {
        self.form(
            "/oidc/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", "cli"),
            ],
        )
        .await
    }

    /// The device page as the browser with `cookie` shows it for `user_code`.
    pub async fn device_page(&self, cookie: Option<&str>, user_code: &str) -> Res {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", user_code)
            .finish();
        self.get(&format!("/oidc/device?{query}"), cookie).await
    }

    /// The signed-in user's answer (`approve` or `deny`), as the device page's form posts it.
    pub async fn answer(&self, cookie: &str, user_code: &str, decision: &str) -> Res {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("user_code", user_code), ("decision", decision)])
            .finish();
        self.post_raw("/oidc/device/verify", body.into_bytes(), FORM, Some(cookie))
            .await
    }

    /// The CLI trades a refresh token for new tokens.
    pub async fn refresh(&self, refresh_token: &str) -> Res {
        self.form(
            "/oidc/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", "cli"),
            ],
        )
        .await
    }

    /// What the resource server learns of `token` by introspection.
    pub async fn introspect(&self, token: &str) -> Value {
        let res = self.introspect_as(CLIENT_IP, RS_SECRET, token).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.json
    }

    /// The resource server's introspection of `token` from `ip`, authenticated by
    /// `client_secret` (right or wrong), as answered.
    pub async fn introspect_as(&self, ip: &str, client_secret: &str, token: &str) -> Res {
        let pairs = [
            ("token", token),
            ("client_id", "resource-server"),
            ("client_secret", client_secret),
        ];
        self.form_from(ip, "/oidc/introspect", &pairs, vec![]).await
    }

    /// `GET /oidc/userinfo` with `access_token` as the Bearer.
    pub async fn userinfo(&self, access_token: &str) -> Res {
        self.userinfo_with("GET", Some(&format!("Bearer {access_token}")))
            .await
    }

    /// `/oidc/userinfo` by `method`, with `authorization` (if any) as the header's whole value.
    pub async fn userinfo_with(&self, method: &str, authorization: Option<&str>) -> Res {
        let headers = authorization
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.request(method, "/oidc/userinfo", vec![], None, None, headers)
            .await
    }

    /// The whole device flow for a new user `email`: the device asks for `scope`, the user
    /// approves in the browser, the device's next poll gets the tokens.
    pub async fn device_tokens(&self, email: &str, scope: &str) -> Tokens {
        let cookie = self.sign_up(email, PASSWORD).await.cookie();
        let asked = self.device_authorize(scope).await;
        let approved = self
            .answer(
                &cookie,
                asked["user_code"].as_str().expect("user_code"),
                "approve",
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        let tokens = self
            .poll(asked["device_code"].as_str().expect("device_code"))
            .await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
        Tokens(tokens.json)
    }
}
