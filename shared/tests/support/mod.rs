//! The test harness: an `App` over a chosen store with a manual clock, and request builders
//! that look like what a browser on the trusted SPA origin sends.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]
#![allow(
    unreachable_pub,
    reason = "every test binary includes this module; `pub` is how its items are shared"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]

use std::collections::HashMap;
use std::sync::Arc;

use authfn::clock::ManualClock;
use authfn::mail::{Outbox, SentMail};
use authfn::request::{ClientIp, HttpRequest};
use authfn::store::{MemoryStore, Store};
use authfn::{App, Config, Endpoint, UnixTime};
use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

pub mod idp;
pub mod issuer;

/// Declares each named case, an `async fn(Harness)` of the including file, as a test over
/// each store: the in-memory one always, DynamoDB's real API when `tests/run.sh` runs it.
/// Cases after `racing:` start requests together that must meet a race: in memory they get
/// a store whose token reads give way (see `Harness::racing_memory`); over DynamoDB the
/// network does that for real.
#[allow(unused_macros, reason = "not every test binary runs over each store")]
macro_rules! for_each_store {
    (racing: $($case:ident),* $(,)?) => {
        mod racing_in_memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::support::Harness::racing_memory()).await
                }
            )*
        }
        #[cfg(feature = "dynamodb")]
        mod racing_in_dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs a local DynamoDB API: run tests/run.sh"]
                async fn $case() {
                    super::$case(super::support::Harness::dynamodb(&[]).await).await
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::support::Harness::memory(&[]).await).await
                }
            )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs a local DynamoDB API: run tests/run.sh"]
                async fn $case() {
                    super::$case(super::support::Harness::dynamodb(&[]).await).await
                }
            )*
        }
    };
}
#[allow(unused_imports, reason = "not every test binary runs over each store")]
pub(crate) use for_each_store;

pub const PASSWORD: &str = "correct horse battery staple";
pub const JSON: &str = "application/json";
pub const TRUSTED_ORIGIN: &str = "https://app.example.com";
/// The address a request comes from unless a test names another.
pub const CLIENT_IP: &str = "203.0.113.7";

pub fn key_b64(seed: u8) -> String {
    authfn::crypto::b64url(&[seed; 32])
}

pub fn creds(email: &str, password: &str) -> Vec<u8> {
    serde_json::json!({ "email": email, "password": password })
        .to_string()
        .into_bytes()
}

/// Fixed region and credentials: a local server checks no signature, and with these the SDK
/// never goes looking for real ones (such as the instance metadata service).
#[cfg(feature = "dynamodb")]
fn local_aws() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "authfn-tests",
        ))
}

pub struct Harness {
    pub app: App,
    pub clock: ManualClock,
    pub store: Arc<dyn Store>,
    /// Every mail the app sent, newest first.
    pub outbox: Arc<Outbox>,
    settings: HashMap<String, String>,
}

pub struct Res {
    pub status: StatusCode,
    pub text: String,
    pub json: Value,
    headers: http::HeaderMap,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The status and the JSON body's `error` code (empty when it has none), to compare in
    /// one assertion.
    pub fn error(&self) -> (u16, &str) {
        (
            self.status.as_u16(),
            self.json["error"].as_str().unwrap_or(""),
        )
    }

    /// Every header, as (name, value) pairs in order: two answers compared with this differ
    /// in no header at all.
    pub fn all_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    /// The whole Set-Cookie header that sets the cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.split_once('=').is_some_and(|(n, _)| n == name))
    }

    /// The `name=value` pair of the cookie `name`, as a browser would send it back.
    pub fn cookie_named(&self, name: &str) -> String {
        let set = self
            .set_cookie(name)
            .unwrap_or_else(|| panic!("no {name} cookie in {}: {}", self.status, self.text));
        set.split(';').next().unwrap().to_owned()
    }

    /// The `name=value` pair of the (first) Set-Cookie header: the session cookie.
    pub fn cookie(&self) -> String {
        let set = self
            .header("set-cookie")
            .unwrap_or_else(|| panic!("no Set-Cookie in {}: {}", self.status, self.text));
        set.split(';').next().unwrap().to_owned()
    }
}

impl Harness {
    fn build(store: Arc<dyn Store>, overrides: &[(&str, &str)]) -> Self {
        let mut settings: HashMap<String, String> = [
            ("AUTHFN_SESSION_KEYS", key_b64(42).as_str()),
            ("AUTHFN_DATA_KEYS", key_b64(43).as_str()),
            ("AUTHFN_TRUSTED_ORIGINS", "https://app.example.com"),
            ("AUTHFN_APP_URL", "https://app.example.com/"),
            // Cheap hashing keeps the suite fast; the cost itself is covered by the benches.
            ("AUTHFN_ARGON2_MEMORY_KIB", "256"),
            ("AUTHFN_ARGON2_ITERATIONS", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        settings.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let clock = ManualClock::at(UnixTime(1_800_000_000));
        let outbox = Arc::new(Outbox::new(Arc::new(clock.clone())));
        let app = Self::app(&settings, store.clone(), &clock).with_mailer(outbox.clone());
        Harness {
            app,
            clock,
            store,
            outbox,
            settings,
        }
    }

    fn app(settings: &HashMap<String, String>, store: Arc<dyn Store>, clock: &ManualClock) -> App {
        let config = Config::from_lookup(|k| settings.get(k).cloned()).expect("test config");
        App::new(config, store)
            .expect("app")
            .with_clock(Arc::new(clock.clone()))
    }

    /// The same app, sending its mail through `mailer` (a named fault, say) instead of the outbox.
    pub fn with_mailer(self, mailer: Arc<dyn authfn::mail::Mailer>) -> Self {
        Harness {
            app: self.app.with_mailer(mailer),
            ..self
        }
    }

    /// Over a store the test prepared (say, with a named fault).
    pub fn with_store(store: Arc<dyn Store>, overrides: &[(&str, &str)]) -> Self {
        Self::build(store, overrides)
    }

    pub async fn memory(overrides: &[(&str, &str)]) -> Self {
        Self::build(Arc::new(MemoryStore::new()), overrides)
    }

    /// Over a memory store where each read of a refresh token or device authorization gives
    /// way to the other tasks, so requests joined on one thread all read before any writes.
    pub fn racing_memory() -> Self {
        let store = MemoryStore::new();
        store.yield_after_each_token_read();
        Self::build(Arc::new(store), &[])
    }

    /// A fresh table on the local DynamoDB API server that `tests/run.sh` starts.
    #[cfg(feature = "dynamodb")]
    pub async fn dynamodb(overrides: &[(&str, &str)]) -> Self {
        use authfn::store::dynamodb::DynamoStore;
        let endpoint = std::env::var("AUTHFN_TEST_DYNAMODB_ENDPOINT")
            .expect("AUTHFN_TEST_DYNAMODB_ENDPOINT is unset: run these tests through tests/run.sh");
        let table = format!(
            "behaviour-{}",
            authfn::token::UserId::generate()
                .unwrap()
                .as_str()
                .replace(['-', '_'], "x")
        );
        let store = DynamoStore::connect_with(local_aws(), table, Some(endpoint)).await;
        store.create_table_if_missing().await.expect("create table");
        Self::build(Arc::new(store), overrides)
    }

    /// A DynamoDB store whose server is down: a loopback port nothing listens on.
    #[cfg(feature = "dynamodb")]
    pub async fn unreachable_dynamodb() -> Self {
        use authfn::store::dynamodb::DynamoStore;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = DynamoStore::connect_with(
            local_aws(),
            "authfn".into(),
            Some(format!("http://127.0.0.1:{port}")),
        )
        .await;
        Self::build(Arc::new(store), &[])
    }

    /// The same app, making its outbound calls through `client`.
    pub fn with_http_client(
        self,
        client: Arc<dyn authfn::federation::outbound::HttpClient>,
    ) -> Self {
        Harness {
            app: self.app.with_http_client(client),
            ..self
        }
    }

    /// The same store and clock under different settings, as after a redeploy.
    pub fn reconfigure(&self, overrides: &[(&str, &str)]) -> Self {
        let mut settings = self.settings.clone();
        settings.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let app =
            Self::app(&settings, self.store.clone(), &self.clock).with_mailer(self.outbox.clone());
        Harness {
            app,
            clock: self.clock.clone(),
            store: self.store.clone(),
            outbox: self.outbox.clone(),
            settings,
        }
    }

    /// Walks the manual clock `secs` forward.
    pub fn wait(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }

    pub fn now(&self) -> i64 {
        authfn::Clock::now(&self.clock).0
    }

    /// A correctly signed token for a session that does not exist.
    pub fn signed_random_token(&self) -> String {
        let token = authfn::token::SessionToken::generate().unwrap();
        let user = authfn::token::UserId::generate().unwrap();
        token
            .sign(&user, &self.app.config().session_keys)
            .secret()
            .to_owned()
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
        cookie: Option<&str>,
        headers: Vec<(&str, &str)>,
    ) -> Res {
        self.request_from(CLIENT_IP, method, path, body, content_type, cookie, headers)
            .await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the whole request spelled out, for the few tests that vary the client's IP"
    )]
    pub async fn request_from(
        &self,
        ip: &str,
        method: &str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
        cookie: Option<&str>,
        headers: Vec<(&str, &str)>,
    ) -> Res {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"));
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(c) = cookie {
            builder = builder.header("cookie", c);
        }
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        let mut req: HttpRequest = builder.body(Bytes::from(body)).unwrap();
        req.extensions_mut().insert(ClientIp(ip.to_owned()));
        let res = match Endpoint::for_path(path) {
            Some(endpoint) => self.app.handle(endpoint, req).await,
            None => self.app.route(req).await,
        };
        let (parts, text) = res.into_parts();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res {
            status: parts.status,
            text,
            json,
            headers: parts.headers,
        }
    }

    /// A JSON POST as the SPA on the trusted origin sends it.
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        cookie: Option<&str>,
    ) -> Res {
        self.request(
            "POST",
            path,
            body,
            Some(content_type),
            cookie,
            vec![("origin", TRUSTED_ORIGIN)],
        )
        .await
    }

    pub async fn post_json(&self, path: &str, body: Value, cookie: Option<&str>) -> Res {
        self.post_raw(path, body.to_string().into_bytes(), JSON, cookie)
            .await
    }

    /// `GET path` as a non-browser client holding `token` as its Bearer credential.
    pub async fn get_with_bearer(&self, path: &str, token: &str) -> Res {
        let authorization = format!("Bearer {token}");
        self.request(
            "GET",
            path,
            vec![],
            None,
            None,
            vec![("authorization", &authorization)],
        )
        .await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Res {
        self.request(
            "GET",
            path,
            vec![],
            None,
            cookie,
            vec![("origin", TRUSTED_ORIGIN)],
        )
        .await
    }

    /// A new account, signed in: sign-up, then the link in the mail it sent, as a person would.
    /// Returns verify-email's answer (200 with the session), or sign-up's own if it was not
    /// 202 (a bad address, a rate limit, an outage, verification off) or mailed no link (the
    /// address has an account).
    pub async fn sign_up(&self, email: &str, password: &str) -> Res {
        let asked = self.sign_up_request(email, password).await;
        if asked.status != StatusCode::ACCEPTED {
            return asked;
        }
        let mail = self.latest_mail(email);
        if !mail.text.contains("?token=") {
            // A notice: the address has an account, and sign-up made nothing.
            return asked;
        }
        self.post_json(
            "/auth/verify-email",
            serde_json::json!({ "token": mail_token(&mail) }),
            None,
        )
        .await
    }

    /// Only the sign-up request: what answers it, not the account.
    pub async fn sign_up_request(&self, email: &str, password: &str) -> Res {
        self.post_raw("/auth/sign-up", creds(email, password), JSON, None)
            .await
    }

    /// The newest mail to `email` (any spelling of it); panics if there is none.
    pub fn latest_mail(&self, email: &str) -> SentMail {
        let to = authfn::email::Email::parse(email).unwrap();
        self.mails_to(email)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no mail to {}", to.as_str()))
    }

    /// Every mail to `email`, newest first.
    pub fn mails_to(&self, email: &str) -> Vec<SentMail> {
        let to = authfn::email::Email::parse(email).unwrap();
        self.outbox
            .messages()
            .into_iter()
            .filter(|m| m.to == to.as_str())
            .collect()
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Res {
        self.post_raw("/auth/sign-in", creds(email, password), JSON, None)
            .await
    }

    /// A sign-in from a browser that sends `cookies` (a `Cookie` header value).
    pub async fn sign_in_with_cookies(&self, email: &str, password: &str, cookies: &str) -> Res {
        self.post_raw("/auth/sign-in", creds(email, password), JSON, Some(cookies))
            .await
    }

    pub async fn sign_in_from(&self, ip: &str, email: &str, password: &str) -> Res {
        let headers = vec![("origin", TRUSTED_ORIGIN)];
        self.request_from(
            ip,
            "POST",
            "/auth/sign-in",
            creds(email, password),
            Some(JSON),
            None,
            headers,
        )
        .await
    }
}

/// The link token in a mail's text (`…#/page?token=<token>`); panics if it has none.
pub fn mail_token(mail: &SentMail) -> String {
    let (_, rest) = mail
        .text
        .split_once("?token=")
        .unwrap_or_else(|| panic!("no link in {:?}", mail.subject));
    rest.split_whitespace().next().unwrap().to_owned()
}

/// The six-digit code in a mail's text; panics if it has none.
pub fn mail_code(mail: &SentMail) -> String {
    let (_, rest) = mail
        .text
        .split_once("code: ")
        .unwrap_or_else(|| panic!("no code in {:?}", mail.subject));
    rest.chars().take(6).collect()
}
