//! The requests the suite sends, named for what a user of authfn does.

use std::time::Duration;

use authfn::Endpoint;
use reqwest::Method;
use serde_json::{Value, json};

use crate::mailbox::Mailbox;
use crate::reply::{Reply, SessionCookie};
use crate::target::Target;

/// How a request proves who it is.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// Anonymous: no credentials at all.
    None,
    /// A browser's session, sent in the `Cookie` header.
    Cookie(&'a SessionCookie),
    /// An OAuth access token, sent as `Authorization: Bearer`.
    Bearer(&'a str),
}

/// The suite's HTTP client for one deployment: builds requests to its endpoints and reads replies.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// The deployment under test and how its URLs are laid out.
    pub target: Target,
}

impl Api {
    /// A client for the deployment the environment names (see the crate docs).
    pub fn from_env() -> Api {
        Api::new(Target::from_env())
    }

    /// A client that never follows redirects, so tests see what the deployment answered.
    pub fn new(target: Target) -> Api {
        let http = reqwest::Client::builder()
            // Redirects would hide what the deployment answered; cookies are handled by hand
            // so tests can see and replay them exactly.
            .redirect(reqwest::redirect::Policy::none())
            // Generous: argon2id in an unoptimised local build is slow, and a fresh
            // `cargo lambda watch` may still be starting a function.
            .timeout(Duration::from_secs(120))
            // A fresh connection per request: a kept-alive one that the server (wrangler dev's
            // proxy, cargo lambda) closes just as it is reused fails the request with "error
            // sending request", which says nothing about authfn.
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client");
        Api { http, target }
    }

    /// An origin the deployment trusts, for requests that must pass the CSRF check.
    pub fn trusted_origin(&self) -> &str {
        &self.target.trusted_origin
    }

    /// A request to `endpoint` carrying `auth`; add headers and a body, then [`Api::send`].
    pub fn request(
        &self,
        method: Method,
        endpoint: Endpoint,
        auth: Auth<'_>,
    ) -> reqwest::RequestBuilder {
        self.request_to(method, self.target.url(endpoint), auth)
    }

    /// A request to a URL of the deployment (say, [`Target::url_with`]) carrying `auth`.
    pub fn request_to(
        &self,
        method: Method,
        url: String,
        auth: Auth<'_>,
    ) -> reqwest::RequestBuilder {
        let req = self.http.request(method, url);
        match auth {
            Auth::None => req,
            Auth::Cookie(cookie) => req.header("cookie", cookie.header()),
            Auth::Bearer(token) => req.header("authorization", format!("Bearer {token}")),
        }
    }

    /// Sends a built request and reads the whole reply; a transport failure fails the test.
    ///
    /// FAULT (of the emulator, named as such): under bursts of parallel requests `cargo lambda
    /// watch` now and then answers a request with its own `500` problem document without
    /// handing it to any function instance (no function logged it). That answer is never
    /// authfn's (authfn's errors are `{"error": …}`), so it is sent again, at most twice; any
    /// answer from authfn itself, 500s included, is returned as it came.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let mut req = req;
        for _ in 0..2 {
            let Some(again) = req.try_clone() else { break };
            let reply = self.send_once(req).await;
            if !reply.is_emulator_failure() {
                return reply;
            }
            eprintln!(
                "cargo lambda answered its own 500 without running the function; sending again"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            req = again;
        }
        self.send_once(req).await
    }

    async fn send_once(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("reading the body failed: {e}"))
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// POSTs a JSON body, as a non-browser client: no Origin, no cookie.
    pub async fn post_json(&self, endpoint: Endpoint, body: &Value) -> Reply {
        self.send(self.request(Method::POST, endpoint, Auth::None).json(body))
            .await
    }

    /// Creates an account and signs in to it, as a non-browser client and its owner would:
    /// sign-up, then the link in the mail it sent (read from the deployment's mailbox). Returns
    /// verify-email's reply (200 with the session), or sign-up's own when it was not 202 or
    /// mailed no link (the address has an account: it got a notice).
    pub async fn sign_up(&self, email: &str, password: &str) -> Reply {
        self.sign_up_with(&json!({ "email": email, "password": password }))
            .await
    }

    /// [`Api::sign_up`] with a body of the caller's (say, with `session_delivery`), which the
    /// verification repeats but for the address and password.
    pub async fn sign_up_with(&self, body: &Value) -> Reply {
        let asked = self.post_json(Endpoint::SignUp, body).await;
        if asked.status != 202 {
            return asked;
        }
        let email = authfn::email::Email::parse(
            body["email"].as_str().expect("a sign-up body has an email"),
        )
        .expect("sign-up accepted the address");
        let mail = Mailbox::for_target().latest_to(email.as_str()).await;
        let Some(token) = mail.link_token() else {
            return asked;
        };
        let mut proof = body.clone();
        let fields = proof.as_object_mut().expect("a JSON object");
        fields.remove("email");
        fields.remove("password");
        fields.insert("token".into(), token.into());
        self.post_json(Endpoint::VerifyEmail, &proof).await
    }

    /// Only the sign-up request (202 whatever the address, with verification required).
    pub async fn sign_up_request(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            Endpoint::SignUp,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs in to an existing account, as a non-browser client.
    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            Endpoint::SignIn,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs up and returns the session cookie, for tests about what comes after.
    pub async fn signed_up(&self, email: &str, password: &str) -> SessionCookie {
        let reply = self.sign_up(email, password).await;
        reply.expect_status(200);
        reply.session_cookie()
    }

    /// A POST from a page of `origin` in a browser, which sends the cookie and the Origin.
    pub async fn browser_post(
        &self,
        endpoint: Endpoint,
        cookie: &SessionCookie,
        origin: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self
            .request(Method::POST, endpoint, Auth::Cookie(cookie))
            .header("origin", origin);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req).await
    }

    /// POSTs a form, as OAuth clients do (no Origin unless given, for a browser's form post).
    pub async fn post_form(
        &self,
        endpoint: Endpoint,
        auth: Auth<'_>,
        origin: Option<&str>,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.request(Method::POST, endpoint, auth).form(form);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        self.send(req).await
    }

    /// A GET with a query string.
    pub async fn get_query(
        &self,
        endpoint: Endpoint,
        auth: Auth<'_>,
        query: &[(&str, &str)],
    ) -> Reply {
        self.send(self.request(Method::GET, endpoint, auth).query(query))
            .await
    }

    /// A plain GET carrying `auth`.
    pub async fn get(&self, endpoint: Endpoint, auth: Auth<'_>) -> Reply {
        self.send(self.request(Method::GET, endpoint, auth)).await
    }

    /// `GET /auth/session`.
    pub async fn session(&self, auth: Auth<'_>) -> Reply {
        self.get(Endpoint::Session, auth).await
    }
}
