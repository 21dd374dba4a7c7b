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

#![allow(
    clippy::unwrap_used,
    reason = "a test's panic is its failure report; clippy.toml covers #[test] bodies, not helpers"
)]
use std::time::Duration;

use authfn_blackbox::{Api, Endpoint, random_hex};
use serde_json::{Value, json};

const RETURN_TO: &str = "http://localhost:5173/";

fn idp_url() -> String {
    std::env::var("AUTHFN_TEST_IDP_URL").unwrap_or_else(|_| {
        panic!(
            "AUTHFN_TEST_IDP_URL is not set: tests/run.sh starts the OpenID provider and sets it"
        )
    })
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
        Browser {
            http,
            jar,
            base: api.target.base_url.clone(),
            api,
        }
    }

    fn begin_url(&self, provider: &str) -> String {
        self.api
            .target
            .url(Endpoint::FederationBegin)
            .replace("{provider}", provider)
    }

    fn callback_url(&self, provider: &str) -> String {
        self.api
            .target
            .url(Endpoint::FederationCallback)
            .replace("{provider}", provider)
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// Begins a sign-in and walks the provider's pages as `login` until the provider sends
    /// the browser back to authfn; stops just before that callback request.
    async fn walk_to_callback(&self, provider: &str, login: &str) -> Callback {
        let res = self.get(&self.begin_url(provider)).await;
        assert_eq!(
            res.status().as_u16(),
            302,
            "begin redirects to the provider"
        );
        self.walk_from(location(&res), login).await
    }

    /// As `walk_to_callback`, for a sign-in an SPA began with `fetch` (a JSON answer naming the
    /// provider's URL), then sent the browser to.
    async fn walk_to_callback_begun_in_json(&self, provider: &str, login: &str) -> Callback {
        let res = self
            .http
            .get(self.begin_url(provider))
            .header("accept", "application/json")
            .send()
            .await
            .expect("begin");
        assert_eq!(res.status().as_u16(), 200, "begin answers JSON when asked");
        let begun: Value = res.json().await.expect("JSON");
        self.walk_from(
            begun["authorization_url"]
                .as_str()
                .expect("authorization_url")
                .to_owned(),
            login,
        )
        .await
    }

    /// Walks the provider's pages from `url` as `login` until the provider sends the browser
    /// back to authfn; stops just before that callback request.
    async fn walk_from(&self, mut url: String, login: &str) -> Callback {
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
                    if let Some((action, fields)) =
                        form_post_of(&page).filter(|(a, _)| a.starts_with(&self.base))
                    {
                        return Callback::Post(action, fields);
                    }
                    let prompt = if page.contains("name=\"prompt\" value=\"login\"") {
                        "login"
                    } else {
                        "consent"
                    };
                    let res = self
                        .http
                        .post(&url)
                        .form(&[("prompt", prompt), ("login", login), ("password", "any")])
                        .send()
                        .await
                        .expect("interaction submit");
                    assert!(
                        matches!(res.status().as_u16(), 302 | 303),
                        "interaction answered {}",
                        res.status()
                    );
                    url = location(&res);
                }
                other => panic!(
                    "provider answered {other} at {url}: {}",
                    res.text().await.unwrap_or_default()
                ),
            }
        }
        panic!("the provider never sent the browser back to authfn");
    }

    async fn call(&self, callback: &Callback, accept_json: bool) -> Landing {
        let req = match callback {
            Callback::Get(url) => self.http.get(url),
            Callback::Post(url, fields) => self.http.post(url).form(fields),
        };
        let req = if accept_json {
            req.header("accept", "application/json")
        } else {
            req
        };
        let mut res = req.send().await.expect("callback");
        if res.status().as_u16() == 303 {
            // A form_post callback's same-site finishing step, which a browser follows.
            res = self.get(&location(&res)).await;
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        Landing {
            status,
            location,
            body: res.text().await.unwrap_or_default(),
            callback: callback.clone(),
        }
    }

    async fn sign_in(&self, provider: &str, login: &str) -> Landing {
        let callback = self.walk_to_callback(provider, login).await;
        self.call(&callback, false).await
    }

    /// The `Cookie` header this browser sends to authfn.
    fn cookies(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().expect("base URL");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// This browser's cookies whose names contain `part`, as a `Cookie` header value.
    fn cookies_named(&self, part: &str) -> String {
        self.cookies()
            .split("; ")
            .filter(|c| c.split('=').next().is_some_and(|n| n.contains(part)))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a `form_post` callback as a browser does: a cross-site POST, which carries the
    /// `SameSite=None` binding cookie but not the `Lax` session cookie.
    async fn cross_site_post(&self, callback: &Callback) -> reqwest::Response {
        let Callback::Post(url, fields) = callback else {
            panic!("not a form_post callback")
        };
        let bare = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        let res = bare
            .post(url)
            .header("cookie", self.cookies_named("authfn_federation"))
            .form(fields)
            .send()
            .await
            .expect("callback");
        // What the browser keeps from the answer (the handoff cookie).
        let url: reqwest::Url = self.base.parse().expect("base URL");
        use reqwest::cookie::CookieStore;
        let mut set_cookies = res.headers().get_all("set-cookie").iter();
        self.jar.set_cookies(&mut set_cookies, &url);
        res
    }

    /// What authfn says of a session cookie this browser had earlier (`Browser::cookies`).
    async fn session_with(&self, cookies: &str) -> u16 {
        let url = self.api.target.url(Endpoint::Session);
        let res = reqwest::Client::new()
            .get(url)
            .header("cookie", cookies)
            .send()
            .await
            .expect("session request");
        res.status().as_u16()
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
        assert_eq!(
            (self.status, self.location.as_deref()),
            (302, Some(RETURN_TO)),
            "callback answered {}",
            self.body
        );
    }

    /// A browser whose sign-in failed is sent back to the SPA with authfn's error code in
    /// `authfn_error`, rather than left on a JSON page of the auth host.
    #[track_caller]
    fn expect_sent_back(&self, code: &str) {
        assert_eq!(self.status, 302, "callback answered {}", self.body);
        let location =
            reqwest::Url::parse(self.location.as_deref().expect("a Location")).expect("a URL");
        assert!(
            location.as_str().starts_with(RETURN_TO),
            "sent to {location}"
        );
        let error = location
            .query_pairs()
            .find(|(k, _)| k == "authfn_error")
            .map(|(_, v)| v.into_owned());
        assert_eq!(error.as_deref(), Some(code), "sent to {location}");
    }

    /// The JSON error a client that asked for JSON gets.
    #[track_caller]
    fn expect_error(&self, status: u16, code: &str) {
        let body: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        assert_eq!(
            (self.status, body["error"].as_str()),
            (status, Some(code)),
            "callback answered {}",
            self.body
        );
    }
}

fn location(res: &reqwest::Response) -> String {
    let value = res
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("ASCII location");
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
    s.replace("&amp;", "&")
        .replace("&#x2F;", "/")
        .replace("&#x3D;", "=")
        .replace("&quot;", "\"")
}

async fn arm_fault(fault: &str, login: &str) {
    let url = format!("{}/__fault/{fault}?sub={login}", idp_url());
    let res = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .expect("fault injector");
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
    assert_eq!(
        session["user"]["email"],
        json!(format!("{login}@example.test"))
    );

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
    assert_eq!(
        browser.session_with(&old_cookies).await,
        401,
        "the session replaced by a federated sign-in still works"
    );
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn form_post_callbacks_work_and_json_is_answered_when_asked_for() {
    let browser = Browser::new();
    let callback = browser
        .walk_to_callback("idp-linking", &login_name("post"))
        .await;
    assert!(
        matches!(callback, Callback::Post(..)),
        "idp-linking uses response_mode=form_post"
    );
    let landing = browser.call(&callback, true).await;
    assert_eq!(landing.status, 200, "{}", landing.body);
    let body: Value = serde_json::from_str(&landing.body).unwrap();
    assert_eq!(body["return_to"], json!(RETURN_TO));
    assert!(
        body["user_id"].is_string() && body.get("session_token").is_none(),
        "{body}"
    );
    assert_eq!(browser.session().await.0, 200);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_form_post_sign_in_ends_the_session_the_browser_had() {
    form_post_ends_the_session_the_browser_had(false).await;
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_form_post_sign_in_begun_by_fetch_ends_the_session_the_browser_had() {
    form_post_ends_the_session_the_browser_had(true).await;
}

async fn form_post_ends_the_session_the_browser_had(begun_in_json: bool) {
    let browser = Browser::new();
    browser
        .sign_in("idp", &login_name("before"))
        .await
        .expect_signed_in();
    let (_, before) = browser.session().await;
    let old_cookies = browser.cookies();

    // (The provider remembers this browser's account: the same user, a new sign-in.)
    let callback = if begun_in_json {
        browser
            .walk_to_callback_begun_in_json("idp-linking", &login_name("after"))
            .await
    } else {
        browser
            .walk_to_callback("idp-linking", &login_name("after"))
            .await
    };
    let posted = browser.cross_site_post(&callback).await;
    // The POST cannot see the old session, so it hands the new one to a same-site GET.
    assert_eq!(
        posted.status().as_u16(),
        303,
        "{}",
        posted.text().await.unwrap_or_default()
    );
    let finish = location(&posted);
    assert!(
        finish.starts_with(&browser.base) && finish.contains("finish=1"),
        "{finish}"
    );
    let finished = browser.get(&finish).await;
    assert_eq!(
        (finished.status().as_u16(), location(&finished)),
        (302, RETURN_TO.to_owned())
    );

    let (status, after) = browser.session().await;
    assert_eq!(status, 200, "{after}");
    assert_ne!(after["session"]["id"], before["session"]["id"]);
    assert_eq!(
        browser.session_with(&old_cookies).await,
        401,
        "the session the browser had still works"
    );
    // The handoff is spent: the step does nothing a second time.
    let again = browser.get(&finish).await;
    assert!(
        location(&again).contains("authfn_error=invalid_state"),
        "{}",
        location(&again)
    );
    assert_eq!(
        browser.session().await.1["session"]["id"],
        after["session"]["id"]
    );
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn the_finishing_step_cannot_sign_anyone_out() {
    // A hostile page sends a signed-in browser to the finishing step of a sign-in it never
    // made (a cross-site navigation, which carries the Lax session cookie).
    let browser = Browser::new();
    browser
        .sign_in("idp", &login_name("csrf"))
        .await
        .expect_signed_in();
    let (_, before) = browser.session().await;
    let finish = browser.callback_url("idp-linking")
        + "?finish=1&return_to=http%3A%2F%2Flocalhost%3A5173%2F";
    let res = browser.get(&finish).await;
    assert_eq!(res.status().as_u16(), 302);
    assert!(
        location(&res).contains("authfn_error=invalid_state"),
        "{}",
        location(&res)
    );
    let (status, after) = browser.session().await;
    assert_eq!(
        (status, &after["session"]["id"]),
        (200, &before["session"]["id"])
    );
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_failed_federated_sign_in_does_not_sign_the_user_out() {
    let browser = Browser::new();
    let login = login_name("stay");
    browser.sign_in("idp", &login).await.expect_signed_in();
    let (_, before) = browser.session().await;
    // Signing in again fails: the address at the provider is no longer an allowed one.
    let callback = browser.walk_to_callback("idp", &login).await;
    arm_fault("other_email_domain", &login).await;
    browser
        .call(&callback, false)
        .await
        .expect_sent_back("email_domain_not_allowed");
    let (status, after) = browser.session().await;
    assert_eq!(
        (status, &after["session"]["id"]),
        (200, &before["session"]["id"])
    );
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn return_to_must_be_on_the_allowlist() {
    let browser = Browser::new();
    let ok = browser
        .get(&format!(
            "{}?return_to=http%3A%2F%2Flocalhost%3A5173%2Fsettings",
            browser.begin_url("idp")
        ))
        .await;
    assert_eq!(ok.status().as_u16(), 302);
    for hostile in [
        "https%3A%2F%2Fevil.example%2F",
        "http%3A%2F%2Flocalhost%3A5173%2Fsettings%2F..%2F..%2Fx",
        "%2F%2Fevil.example",
    ] {
        let res = browser
            .get(&format!("{}?return_to={hostile}", browser.begin_url("idp")))
            .await;
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
    browser
        .call(&landing.callback, false)
        .await
        .expect_sent_back("invalid_state");
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_tampered_state_is_refused() {
    let browser = Browser::new();
    let Callback::Get(url) = browser.walk_to_callback("idp", &login_name("tamper")).await else {
        unreachable!()
    };
    let tampered = url.replace("state=", "state=x");
    browser
        .call(&Callback::Get(tampered), true)
        .await
        .expect_error(400, "invalid_state");
    assert_eq!(browser.session().await.0, 401);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_leaked_callback_url_cannot_burn_the_sign_in() {
    let browser = Browser::new();
    let callback = browser.walk_to_callback("idp", &login_name("leaked")).await;
    // Whoever got hold of the URL (a log, a Referer), in a browser with a sign-in of its own
    // under way, so with a binding cookie of its own.
    let other = Browser::new();
    other.walk_to_callback("idp", &login_name("other")).await;
    other
        .call(&callback, false)
        .await
        .expect_sent_back("invalid_state");
    assert_eq!(other.session().await.0, 401);
    // The sign-in is still there for the browser that began it.
    browser.call(&callback, false).await.expect_signed_in();
    assert_eq!(browser.session().await.0, 200);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_callback_without_the_providers_iss_is_refused() {
    // The provider's metadata says authorization_response_iss_parameter_supported (RFC 9207).
    for (label, rewrite) in [
        (
            "without iss",
            Box::new(|q: &str| drop_param(q, "iss")) as Box<dyn Fn(&str) -> String>,
        ),
        (
            "with another iss",
            Box::new(|q: &str| format!("{}&iss=http%3A%2F%2F127.0.0.1%3A1", drop_param(q, "iss"))),
        ),
    ] {
        let browser = Browser::new();
        let Callback::Get(url) = browser.walk_to_callback("idp", &login_name("iss")).await else {
            unreachable!()
        };
        assert!(url.contains("iss="), "the provider names itself: {url}");
        let landing = browser.call(&Callback::Get(rewrite(&url)), true).await;
        assert_eq!(landing.status, 400, "{label}: {}", landing.body);
        landing.expect_error(400, "invalid_state");
        assert_eq!(browser.session().await.0, 401, "{label}");
    }
}

/// `url` without the query parameter `name`.
fn drop_param(url: &str, name: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).expect("a URL");
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    parsed.into()
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn a_callback_from_another_browser_is_refused() {
    // Login CSRF: an attacker walks the flow and sends the victim the callback URL.
    let attacker = Browser::new();
    let callback = attacker
        .walk_to_callback("idp", &login_name("attacker"))
        .await;
    let victim = Browser::new();
    victim
        .call(&callback, false)
        .await
        .expect_sent_back("invalid_state");
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
    assert_eq!(
        browser.session().await.0,
        if landing.status == 200 { 200 } else { 401 }
    );
    landing
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn bad_id_tokens_are_refused() {
    for fault in [
        "wrong_nonce",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "unsigned",
        "hs256_with_public_key",
        "bad_signature",
    ] {
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
    signed_up.expect_status(200);
    let user_id = signed_up.json()["user_id"].clone();

    // `idp` may not link by email: the password account is not taken over.
    Browser::new()
        .sign_in("idp", &email)
        .await
        .expect_sent_back("account_exists");

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
async fn the_email_domain_allowlist_holds_on_every_sign_in() {
    // `idp` admits only addresses at example.test.
    let login = login_name("moved");
    Browser::new()
        .sign_in("idp", &login)
        .await
        .expect_signed_in();
    // The account's address at the provider has since moved to another domain.
    let browser = Browser::new();
    let callback = browser.walk_to_callback("idp", &login).await;
    arm_fault("other_email_domain", &login).await;
    browser
        .call(&callback, false)
        .await
        .expect_sent_back("email_domain_not_allowed");
    assert_eq!(browser.session().await.0, 401);
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn an_unverified_email_creates_no_account() {
    let landing = Browser::new()
        .sign_in("idp", &format!("unverified-{}", random_hex()))
        .await;
    landing.expect_sent_back("email_not_verified");
}

#[tokio::test]
#[ignore = "needs a running authfn and OpenID provider (tests/run.sh)"]
async fn an_account_without_a_password_deletes_itself_right_after_signing_in() {
    let browser = Browser::new();
    let login = login_name("delete");
    browser.sign_in("idp", &login).await.expect_signed_in();
    let (_, before) = browser.session().await;
    let signed_in = browser.cookies();
    let url = browser.api.target.url(Endpoint::DeleteAccount);
    let origin = browser.api.trusted_origin().to_owned();
    let delete = |body: Value| {
        browser
            .http
            .post(&url)
            .header("origin", &origin)
            .json(&body)
            .send()
    };
    // The account has no password, so none proves anything; a sign-in moments ago does.
    assert_eq!(
        delete(json!({ "password": "a guess" }))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(delete(json!({})).await.unwrap().status(), 200);
    assert_eq!(
        browser.session_with(&signed_in).await,
        401,
        "its session ended"
    );
    // The same identity signs in to a new, empty account: the old one and its link are gone.
    browser.sign_in("idp", &login).await.expect_signed_in();
    let (_, after) = browser.session().await;
    assert_ne!(after["user"]["id"], before["user"]["id"]);
}
