//! The Cloudflare Workers adapter: turns a `worker::Request` into an [`HttpRequest`], serves
//! it, and turns the answer back. The Worker crate is one call to [`serve`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use worker::{Env, Request};

pub(crate) mod fetch;

use crate::access_log::RequestLog;
use crate::federation::outbound::{
    HttpClient, MAX_RESPONSE_BYTES, OutboundError, OutboundRequest, OutboundResponse,
    basic_authorization, form_body,
};
use crate::request::{ClientIp, HttpRequest};
use crate::response::{ErrorDetail, HttpResponse};
use crate::ses::WorkerSesMailer;
use crate::ses::api::SesApi;
use crate::settings::Settings;
use crate::store::cloudflare::CloudflareStore;
use crate::{App, Config};

/// The KV namespace's binding name in `wrangler.toml` (sessions).
pub const SESSIONS_KV: &str = "SESSIONS";
/// The D1 database's binding name in `wrangler.toml` (everything that needs atomic updates).
pub const DATABASE: &str = "DB";

/// Settings that carry key material: read only from Worker secrets (`wrangler secret put`),
/// never from `[vars]`, which are stored in plain text in the Worker's configuration.
fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "AUTHFN_SESSION_KEYS"
            | "AUTHFN_DATA_KEYS"
            | "AUTHFN_JWT_KEYS"
            | "AUTHFN_JWT_RSA_KEY"
            | "AUTHFN_SES_ACCESS_KEY_ID"
            | "AUTHFN_SES_SECRET_ACCESS_KEY"
    ) || (name.starts_with("AUTHFN_FEDERATION_") && name.ends_with("_CLIENT_SECRET"))
        || (name.starts_with("AUTHFN_OAUTH_CLIENT_") && name.ends_with("_SECRET"))
}

/// Serves one request with whichever endpoint owns its path, and logs it: one JSON line per
/// request, through `console.error` for a 5xx and `console.log` otherwise (Workers Logs and
/// `wrangler tail` show both; `eprintln!` would write nowhere).
///
/// It cannot fail: every error is already an answer. So the Worker's entry point returns
/// `Result<_, Infallible>`, and workers-rs's handling of an `Err` (its error type's `Display`
/// and `Debug`, `Response::error`) is left out of the wasm.
pub async fn serve(req: Request, env: &Env) -> web_sys::Response {
    // Cloudflare's id for the request, also in the client's `cf-ray` response header.
    let request_id = req
        .headers()
        .get("cf-ray")
        .ok()
        .flatten()
        .unwrap_or_else(crate::access_log::new_request_id);
    let log = RequestLog::new(&sent_method(&req), &req.path(), request_id.clone());
    let res = answer(req, env, request_id).await;
    for line in crate::events::log_lines(&res) {
        worker::console_log!("{line}");
    }
    let line = log.finish(&res);
    if line.is_server_error() {
        worker::console_error!("{}", line.json());
    } else {
        worker::console_log!("{}", line.json());
    }
    into_web(res)
}

async fn answer(req: Request, env: &Env, request_id: String) -> HttpResponse {
    let app = match app(env).await {
        Ok(app) => app,
        // A misconfigured deployment: the details go to the log, never to the client.
        Err(e) => return bare_error(crate::ApiError::Internal(e.into())),
    };
    match into_http(req, app.config()).await {
        Ok(mut req) => {
            req.extensions_mut()
                .insert(crate::events::RequestId(request_id));
            app.route(req).await
        }
        // A body that broke off mid-stream, a header the http crate refuses: still authfn's
        // JSON error, not the runtime's bare 500; why goes to the log.
        Err(e) => {
            let mut res = bare_error(crate::ApiError::invalid_field(
                "request",
                "could not be read",
            ));
            if let Some(detail) = res.extensions_mut().get_mut::<ErrorDetail>() {
                detail.cause = Some(format!("unreadable request: {e}"));
            }
            res
        }
    }
}

thread_local! {
    /// The app, built on the isolate's first request and kept for its life: settings and
    /// secrets are fixed per isolate, so parsing them (keys included) again on every request
    /// is wasted work. The KV and D1 bindings it holds are isolate-wide objects (the same
    /// ones `import { env } from "cloudflare:workers"` gives), not one request's I/O, so they
    /// may outlive the request that fetched them. wasm32 has one thread: one app per isolate.
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

/// This isolate's app. Only a built one is kept: a configuration error is answered, and
/// logged, on every request (and a fixed secret is picked up by the next isolate).
async fn app(env: &Env) -> Result<Rc<App>, String> {
    if let Some(app) = APP.with_borrow(Option::clone) {
        return Ok(app);
    }
    // Reading the configuration needs the access-token keys' public halves, which WebCrypto
    // derives asynchronously: so first.
    if let Ok(keys) = env.secret("AUTHFN_JWT_KEYS") {
        let seeds = crate::oauth::keys::JwtKeys::seeds(&keys.to_string());
        crate::signature::derive_public_keys(&seeds).await?;
    }
    let app = Rc::new(app_from_env(env)?);
    APP.with_borrow_mut(|cached| *cached = Some(Rc::clone(&app)));
    Ok(app)
}

/// An error answered before there is a request to route (so without CORS headers).
fn bare_error(e: crate::ApiError) -> HttpResponse {
    let mut res = crate::response::error(e, false);
    crate::response::harden(&mut res, None);
    res
}

/// The app this isolate serves, from the Worker's vars, secrets and bindings.
pub fn app_from_env(env: &Env) -> Result<App, String> {
    let lookup = |name: &str| {
        if is_secret(name) {
            env.secret(name).ok().map(|s| s.to_string())
        } else {
            env.var(name).ok().map(|v| v.to_string())
        }
    };
    let config = Config::from_lookup(lookup).map_err(|e| crate::error::chain(&e))?;
    // The Worker serves sign-up and every other flow that mails: it needs SES's settings.
    let ses =
        SesApi::from_settings(&Settings::new(&lookup)).map_err(|e| crate::error::chain(&e))?;
    let sessions = env
        .kv(SESSIONS_KV)
        .map_err(|e| format!("KV binding {SESSIONS_KV}: {e}"))?;
    let db = env
        .d1(DATABASE)
        .map_err(|e| format!("D1 binding {DATABASE}: {e}"))?;
    let store = CloudflareStore::new(sessions, db, config.session.absolute_lifetime);
    let app = App::new(config, Arc::new(store)).map_err(|e| crate::error::chain(&e))?;
    let app = app
        .with_http_client(Arc::new(FetchClient))
        .with_mailer(Arc::new(WorkerSesMailer::new(ses)));
    // The event bus is optional: without the queue binding, events are logged only.
    Ok(match env.queue(crate::events::QUEUE_BINDING) {
        Ok(queue) => app.with_event_bus(Arc::new(crate::events::queue::QueueBus::new(queue))),
        Err(_) => app,
    })
}

/// Outbound calls through the Workers runtime's `fetch`.
struct FetchClient;

#[async_trait::async_trait(?Send)]
impl HttpClient for FetchClient {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let accept = ("Accept", "application/json");
        let (authorization, body);
        let outbound = match &request {
            OutboundRequest::Get { .. } => fetch::Outbound {
                method: "GET",
                headers: &[accept],
                body: None,
            },
            OutboundRequest::PostForm {
                form, basic_auth, ..
            } => {
                authorization = basic_authorization(&basic_auth.0, &basic_auth.1);
                body = form_body(form);
                fetch::Outbound {
                    method: "POST",
                    headers: &[
                        accept,
                        ("Content-Type", "application/x-www-form-urlencoded"),
                        ("Authorization", &authorization),
                    ],
                    body: Some(body.as_bytes()),
                }
            }
        };
        let res = fetch::send(request.url(), outbound)
            .await
            .map_err(|e| OutboundError::Failed(e.into()))?;
        if res.body.len() > MAX_RESPONSE_BYTES {
            return Err(OutboundError::TooLarge);
        }
        Ok(OutboundResponse {
            status: res.status,
            body: res.body,
        })
    }
}

/// The client IP is `CF-Connecting-IP`, which Cloudflare's edge sets on every request and
/// overwrites if the client sent one.
async fn into_http(mut req: Request, config: &Config) -> worker::Result<HttpRequest> {
    let (max_body_bytes, client_ip_header) = (config.max_body_bytes, &config.client_ip_header);
    let client_ip = req.headers().get("CF-Connecting-IP")?;
    let body = read_capped(&mut req, max_body_bytes).await?;
    let mut builder = http::Request::builder()
        .method(sent_method(&req).as_str())
        .uri(req.inner().url());
    // The headers authfn reads, and no others: a name made at run time would link `http`'s
    // parser for header names (request/headers.rs).
    let wanted = crate::request::headers::READ.iter().chain(client_ip_header);
    for name in wanted {
        if let Some(value) = req.headers().get(name.as_str())? {
            builder = builder.header(name, value);
        }
    }
    let mut http_req = builder
        .body(body)
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    if let Some(ip) = client_ip {
        http_req.extensions_mut().insert(ClientIp(ip));
    }
    Ok(http_req)
}

/// The method as the client sent it. workers-rs's `Method` has no variant for one it does not
/// know (`QUERY`, `FOO`) and reads it as GET, which would serve a GET endpoint to it instead of
/// answering 405.
fn sent_method(req: &Request) -> String {
    req.inner().method()
}

/// Reads the body as it arrives, keeping at most `max + 1` bytes: one byte over is all App
/// needs to answer 413 itself (JSON, CORS headers), so an oversized body is never held in
/// memory. The rest is read and dropped up to [`DRAIN_LIMIT`], as the dev server does, so the
/// client gets that answer rather than a broken connection (workerd answers a request whose
/// body is abandoned mid-upload with its own 503).
async fn read_capped(req: &mut Request, max: usize) -> worker::Result<Bytes> {
    use futures_util::StreamExt;
    if req.inner().body().is_none() {
        return Ok(Bytes::new());
    }
    let cap = max.saturating_add(1);
    let mut buf = Vec::new();
    let mut seen = 0usize;
    let mut chunks = req.stream()?;
    while seen <= DRAIN_LIMIT
        && let Some(chunk) = chunks.next().await
    {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if buf.len() < cap {
            buf.extend_from_slice(&chunk[..chunk.len().min(cap - buf.len())]);
        }
    }
    Ok(Bytes::from(buf))
}

/// How much of an oversized body is read only to be dropped.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// The answer as the runtime's `Response`. Should the runtime refuse it (it cannot, for what
/// authfn answers), the client gets a network error and the log says why.
fn into_web(res: HttpResponse) -> web_sys::Response {
    built(res).unwrap_or_else(|e| {
        worker::console_error!(
            "the answer could not be built: {}",
            e.as_string().unwrap_or_default()
        );
        web_sys::Response::error()
    })
}

fn built(res: HttpResponse) -> Result<web_sys::Response, wasm_bindgen::JsValue> {
    let (parts, body) = res.into_parts();
    let headers = web_sys::Headers::new()?;
    for (name, value) in &parts.headers {
        // Set-Cookie may repeat: append keeps every one.
        headers.append(name.as_str(), value.to_str().unwrap_or_default())?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(parts.status.as_u16());
    init.set_headers(&headers);
    let body = (!body.is_empty()).then(|| js_sys::Uint8Array::from(body.as_bytes()));
    web_sys::Response::new_with_opt_js_u8_array_and_init(body.as_ref(), &init)
}

/// Deletes expired D1 rows (counters, revocations): D1 has no TTL of its own.
pub async fn purge_expired(env: &Env) -> Result<(), String> {
    use crate::clock::{Clock, SystemClock};
    let db = env
        .d1(DATABASE)
        .map_err(|e| format!("D1 binding {DATABASE}: {e}"))?;
    crate::store::cloudflare::purge_expired(&db, SystemClock.now())
        .await
        .map_err(|e| crate::error::chain(&e))
}
