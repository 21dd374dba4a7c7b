//! Sign-in through an upstream OpenID provider, driven browserless against a real one
//! (`oidc-provider` from npm, started by tests/run.sh: see tests/support/idp.sh).
//!
//! A "browser" here is a reqwest client with a cookie jar that follows redirects by hand,
//! submits the provider's login and consent forms, and (for `response_mode=form_post`) the
//! auto-submitting form the provider answers with. The deployment under test is configured
//! with two providers at that one IdP: `idp` (query, no linking by email) and `idp-linking`
//! (form_post, links to a local account with the same verified email).
//!
//! The negative ID-token cases arm a fault in the provider's test-only fault injector
//! (`POST /__fault/<name>`), which rewrites the next ID token it issues.

use std::time::Duration;

use authfn_blackbox::{Api, Endpoint, random_hex};
use serde_json::{Value, json};

const RETURN_TO: &str = "http://localhost:5173/";

fn idp_url() -> String {
    std::env::var("AUTHFN_TEST_IDP_URL")
        .unwrap_or_else(|_| panic!("AUTHFN_TEST_IDP_URL is not set: tests/run.sh starts the OpenID provider and sets it"))
}

/// One browser: its own cookie jar, redirects followed by hand.
struct Browser {
    http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    api: Api,
    /// Scheme, host and port of the deployment: a URL there is back at authfn.
    base: String,
}

/// Where a browser's sign-in ended: the callback's answer.
struct Landing {
    status: u16,
    location: Option<String>,
    body: String,
    /// The request that reached the callback, to replay it.
    callback: Callback,
}

#[derive(Clone)]
enum Callback {
    Get(String),
    Post(String, Vec<(String, String)>),
}

impl Browser {
    fn new() -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        let api = Api::from_env();
        Browser { http, jar, base: api.target.base_url.clone(), api }
    }

    fn begin_url(&self, provider: &str) -> String {
        self.api.target.url(Endpoint::FederationBegin).replace("{provider}", provider)
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// Begins a sign-in and walks the provider's pages as `login` until the provider sends
    /// the browser back to authfn; stops just before that callback request.
    async fn walk_to_callback(&self, provider: &str, login: &str) -> Callback {
        let res = self.get(&self.begin_url(provider)).await;
        assert_eq!(res.status().as_u16(), 302, "begin redirects to the provider");
        let mut url = location(&res);
        for _ in 0..12 {
            if url.starts_with(&self.base) {
                return Callback::Get(url);
            }
            let res = self.get(&url).await;
            match res.status().as_u16() {
                302 | 303 => url = location(&res),
                200 => {
                    let page = res.text().await.expect("page");
                    // The provider's own pages are forms too; form_post's goes to authfn.
                    if let Some((action, fields)) = form_post_of(&page).filter(|(a, _)| a.starts_with(&self.base)) {
                        return Callback::Post(action, fields);
                    }
                    let prompt = if page.contains("name=\"prompt\" value=\"login\"") { "login" } else { "consent" };
                    let res = self
                        .http
                        .post(&url)
                        .form(&[("prompt", prompt), ("login", login), ("password", "any")])
                        .send()
                        .await
                        .expect("interaction submit");
                    assert!(matches!(res.status().as_u16(), 302 | 303), "interaction answered {}", res.status());
                    url = location(&res);
                }
                other => panic!("provider answered {other} at {url}: {}", res.text().await.unwrap_or_default()),
            }
        }
        panic!("the provider never sent the browser back to authfn");
    }

    async fn call(&self, callback: &Callback, accept_json: bool) -> Landing {
        let req = match callback {
            Callback::Get(url) => self.http.get(url),
            Callback::Post(url, fields) => self.http.post(url).form(fields),
        };
        let req = if accept_json { req.header("accept", "application/json") } else { req };
        let res = req.send().await.expect("callback");
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        Landing { status, location, body: res.text().await.unwrap_or_default(), callback: callback.clone() }
    }

    async fn sign_in(&self, provider: &str, login: &str) -> Landing {
        let callback = self.walk_to_callback(provider, login).await;
        self.call(&callback, false).await
    }

    /// The `Cookie` header this browser sends to authfn.
    fn cookies(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().expect("base URL");
        self.jar.cookies(&url).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    async fn session(&self) -> (u16, Value) {
        let res = self.get(&self.api.target.url(Endpoint::Session)).await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

impl Landing {
    /// Signed in: sent back to the SPA page without an error.
    #[track_caller]
    fn expect_signed_in(&self) {
        assert_eq!((self.status, self.location.as_deref()), (302, Some(RETURN_TO)), "callback answered {}", self.body);
    }

    /// A browser whose sign-in failed is sent back to the SPA with authfn's error code in
    /// `authfn_error`, rather than left on a JSON page of the auth host.
    #[track_caller]
    fn expect_sent_back(&self, code: &str) {
        assert_eq!(self.status, 302, "callback answered {}", self.body);
        let location = reqwest::Url::parse(self.location.as_deref().expect("a Location")).expect("a URL");
        assert!(location.as_str().starts_with(RETURN_TO), "sent to {location}");
        let error = location.query_pairs().find(|(k, _)| k == "authfn_error").map(|(_, v)| v.into_owned());
        assert_eq!(error.as_deref(), Some(code), "sent to {location}");
    }

    /// The JSON error a client that asked for JSON gets.
    #[track_caller]
    fn expect_error(&self, status: u16, code: &str) {
        let body: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        assert_eq!((self.status, body["error"].as_str()), (status, Some(code)), "callback answered {}", self.body);
    }
}

fn location(res: &reqwest::Response) -> String {
    let value = res.headers().get("location").expect("a Location header").to_str().expect("ASCII location");
    let base = res.url().clone();
    base.join(value).expect("a URL").to_string()
}

/// The action and hidden fields of oidc-provider's `form_post` page.
fn form_post_of(page: &str) -> Option<(String, Vec<(String, String)>)> {
    let action = attr(page.split("<form").nth(1)?, "action")?;
    let fields = page
        .split("<input")
        .skip(1)
        .filter_map(|input| Some((attr(input, "name")?, attr(input, "value")?)))
        .collect();
    Some((html_unescape(&action), fields))
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    Some(html_unescape(&tag[start..start + tag[start..].find('"')?]))
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&").replace("&#x2F;", "/").replace("&#x3D;", "=").replace("&quot;", "\"")
}

async fn arm_fault(fault: &str, login: &str) {
    let url = format!("{}/__fault/{fault}?sub={login}", idp_url());
    let res = reqwest::Client::new().post(url).send().await.expect("fault injector");
    assert_eq!(res.status().as_u16(), 200);
}

fn login_name(tag: &str) -> String {
    format!("fed-{tag}-{}", random_hex())
}

// --- the whole flow ------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_federated_sign_in_creates_an_account_and_a_session() {
    let browser = Browser::new();
    let login = login_name("new");
    browser.sign_in("idp", &login).await.expect_signed_in();
    let (status, session) = browser.session().await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"]["email"], json!(format!("{login}@example.test")));

    // The same identity again, in another browser: the same account, a new session.
    let again = Browser::new();
    again.sign_in("idp", &login).await.expect_signed_in();
    let (_, second) = again.session().await;
    assert_eq!(second["user"]["id"], session["user"]["id"]);
    assert_ne!(second["session"]["id"], session["session"]["id"]);

    // And again in the first browser: its old session is ended and replaced, not reused.
    let old_cookies = browser.cookies();
    browser.sign_in("idp", &login).await.expect_signed_in();
    let (_, third) = browser.session().await;
    assert_eq!(third["user"]["id"], session["user"]["id"]);
    assert_ne!(third["session"]["id"], session["session"]["id"]);
    let replayed = reqwest::Client::new()
        .get(browser.api.target.url(Endpoint::Session))
        .header("cookie", old_cookies)
        .send()
        .await
        .expect("session request");
    assert_eq!(replayed.status().as_u16(), 401, "the session replaced by a federated sign-in still works");
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn form_post_callbacks_work_and_json_is_answered_when_asked_for() {
    let browser = Browser::new();
    let callback = browser.walk_to_callback("idp-linking", &login_name("post")).await;
    assert!(matches!(callback, Callback::Post(..)), "idp-linking uses response_mode=form_post");
    let landing = browser.call(&callback, true).await;
    assert_eq!(landing.status, 200, "{}", landing.body);
    let body: Value = serde_json::from_str(&landing.body).unwrap();
    assert_eq!(body["return_to"], json!(RETURN_TO));
    assert!(body["user_id"].is_string() && body.get("session_token").is_none(), "{body}");
    assert_eq!(browser.session().await.0, 200);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn return_to_must_be_on_the_allowlist() {
    let browser = Browser::new();
    let ok = browser.get(&format!("{}?return_to=http%3A%2F%2Flocalhost%3A5173%2Fsettings", browser.begin_url("idp"))).await;
    assert_eq!(ok.status().as_u16(), 302);
    for hostile in ["https%3A%2F%2Fevil.example%2F", "http%3A%2F%2Flocalhost%3A5173%2Fsettings%2F..%2F..%2Fx", "%2F%2Fevil.example"] {
        let res = browser.get(&format!("{}?return_to={hostile}", browser.begin_url("idp"))).await;
        assert_eq!(res.status().as_u16(), 400, "{hostile}");
        assert!(res.headers().get("location").is_none());
    }
    let unknown = browser.get(&browser.begin_url("nope")).await;
    assert_eq!(unknown.status().as_u16(), 404);
}

// --- state --------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_state_is_good_for_one_callback_only() {
    let browser = Browser::new();
    let landing = browser.sign_in("idp", &login_name("replay")).await;
    landing.expect_signed_in();
    browser.call(&landing.callback, false).await.expect_sent_back("invalid_state");
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_tampered_state_is_refused() {
    let browser = Browser::new();
    let Callback::Get(url) = browser.walk_to_callback("idp", &login_name("tamper")).await else { unreachable!() };
    let tampered = url.replace("state=", "state=x");
    browser.call(&Callback::Get(tampered), true).await.expect_error(400, "invalid_state");
    assert_eq!(browser.session().await.0, 401);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_callback_from_another_browser_is_refused() {
    // Login CSRF: an attacker walks the flow and sends the victim the callback URL.
    let attacker = Browser::new();
    let callback = attacker.walk_to_callback("idp", &login_name("attacker")).await;
    let victim = Browser::new();
    victim.call(&callback, false).await.expect_sent_back("invalid_state");
    assert_eq!(victim.session().await.0, 401);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn an_idp_error_answer_is_a_clear_error() {
    let browser = Browser::new();
    let res = browser.get(&browser.begin_url("idp")).await;
    let mut url = location(&res);
    // Follow to the provider's first interaction page, then cancel there.
    while !url.contains("/interaction/") {
        url = location(&browser.get(&url).await);
    }
    let abort = browser.get(&format!("{url}/abort")).await;
    let mut back = location(&abort);
    while !back.starts_with(&browser.base) {
        back = location(&browser.get(&back).await);
    }
    assert!(back.contains("error=access_denied"), "{back}");
    let landing = browser.call(&Callback::Get(back), true).await;
    landing.expect_error(400, "idp_error");
    assert!(landing.body.contains("access_denied"));
}

// --- the ID token -------------------------------------------------------------------------

async fn sign_in_with_fault(fault: &str) -> Landing {
    let browser = Browser::new();
    let login = login_name(&fault.replace('_', "-"));
    let callback = browser.walk_to_callback("idp", &login).await;
    // Armed for this account just before the callback, whose code exchange is its next token
    // request.
    arm_fault(fault, &login).await;
    let landing = browser.call(&callback, true).await;
    assert_eq!(browser.session().await.0, if landing.status == 200 { 200 } else { 401 });
    landing
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn bad_id_tokens_are_refused() {
    for fault in ["wrong_nonce", "expired", "wrong_audience", "wrong_issuer", "unsigned", "hs256_with_public_key", "bad_signature"] {
        let landing = sign_in_with_fault(fault).await;
        assert_eq!(landing.status, 401, "{fault}: {}", landing.body);
        landing.expect_error(401, "invalid_id_token");
    }
    // A key the cached key set lacks makes authfn refetch the provider's keys once.
    let landing = sign_in_with_fault("rotated_key").await;
    assert_eq!(landing.status, 200, "rotated_key: {}", landing.body);
}

// --- accounts -----------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn an_email_with_a_password_account_links_only_where_allowed() {
    let api = Api::from_env();
    let email = format!("fed-link-{}@example.test", random_hex());
    let signed_up = api.sign_up(&email, "correct horse battery").await;
    signed_up.expect_status(201);
    let user_id = signed_up.json()["user_id"].clone();

    // `idp` may not link by email: the password account is not taken over.
    Browser::new().sign_in("idp", &email).await.expect_sent_back("account_exists");

    // `idp-linking` may, because the provider asserts email_verified.
    let browser = Browser::new();
    let callback = browser.walk_to_callback("idp-linking", &email).await;
    browser.call(&callback, false).await.expect_signed_in();
    let (status, session) = browser.session().await;
    assert_eq!(status, 200);
    assert_eq!(session["user"]["id"], user_id);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn an_unverified_email_creates_no_account() {
    let landing = Browser::new().sign_in("idp", &format!("unverified-{}", random_hex())).await;
    landing.expect_sent_back("email_not_verified");
}
