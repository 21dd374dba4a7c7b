//! The HTTP side: axum in front of [`App::route`], which serves every endpoint at its real
//! path exactly as the deployed functions do.

use std::net::SocketAddr;
use std::sync::Arc;

use authfn::access_log::{LogLine, RequestLog};
use authfn::request::ClientIp;
use authfn::{ApiError, App};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::get;
use bytes::{Bytes, BytesMut};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, Method};
use http_body_util::BodyExt;

use crate::mailbox::Mailbox;

const DEMO_PAGE: &str = include_str!("../static/index.html");

/// How each request is written to the terminal (`AUTHFN_DEV_LOG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// `POST /auth/sign-in 401 invalid_credentials 312ms`: for a person (the default).
    Human,
    /// The JSON line the deployed functions write (`AUTHFN_DEV_LOG=json`).
    Json,
}

impl LogFormat {
    /// `json` for the deployed functions' JSON lines; anything else (or nothing) for lines a
    /// person reads.
    pub(crate) fn from_setting(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Human,
        }
    }

    fn render(self, line: &LogLine) -> String {
        match self {
            LogFormat::Human => line.human(),
            LogFormat::Json => line.json(),
        }
    }
}

#[derive(Clone)]
struct Served {
    app: Arc<App>,
    log: LogFormat,
    mailbox: Arc<Mailbox>,
}

pub(crate) fn router(app: Arc<App>, log: LogFormat, mailbox: Arc<Mailbox>) -> Router {
    // One fallback rather than a route per endpoint: App owns routing, 404 and 405, so the
    // dev server cannot drift from the deployed functions. The mailbox and the API's
    // documentation are the dev server's own routes, which no deployment has.
    Router::new()
        .route("/dev/mailbox", get(list_mail))
        .merge(crate::docs::routes())
        .fallback(serve)
        .with_state(Served { app, log, mailbox })
}

/// `GET /dev/mailbox`: every mail the dev server sent, newest first, as JSON.
async fn list_mail(State(served): State<Served>) -> Response {
    let body = serde_json::to_string(&served.mailbox.messages()).unwrap_or_else(|_| "[]".into());
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// Serves one request and prints its line, so a newcomer sees every call and why it failed.
async fn serve(
    State(served): State<Served>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (res, line, events) = serve_logged(served.app, peer, req).await;
    for event in events {
        println!("{event}");
    }
    println!("{}", served.log.render(&line));
    res
}

/// The answer, its access line, and its security events' log lines.
async fn serve_logged(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request,
) -> (Response, LogLine, Vec<String>) {
    // A fresh id per request, as the platforms give one: ties the line to a client's report.
    let request_id = authfn::access_log::new_request_id();
    let log = RequestLog::new(req.method().as_str(), req.uri().path(), request_id.clone());
    let res = answer(app, peer, req, request_id).await;
    let line = log.finish(&res);
    let events = authfn::events::log_lines(&res);
    (res.map(Body::from), line, events)
}

async fn answer(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request,
    request_id: String,
) -> authfn::response::HttpResponse {
    if req.uri().path() == "/" && matches!(*req.method(), Method::GET | Method::HEAD) {
        return demo_page();
    }
    let (parts, body) = req.into_parts();
    let body = match read_capped(body, app.config().max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            // The client broke off mid-body; if anyone is left to read it, the answer is JSON
            // like every other.
            let req = http::Request::from_parts(parts, Bytes::new());
            return app.refuse(
                &req,
                ApiError::invalid_field("body", "the request body was cut off"),
            );
        }
    };
    let mut req = http::Request::from_parts(parts, body);
    // The socket peer, as API Gateway's sourceIp would be: a header cannot fake it.
    req.extensions_mut()
        .insert(ClientIp(peer.ip().to_canonical().to_string()));
    req.extensions_mut()
        .insert(authfn::events::RequestId(request_id));
    app.route(req).await
}

/// Reads at most `max + 1` bytes: one byte over is all App needs to answer 413 itself, with
/// its usual JSON and CORS headers. The rest of an oversized body is read and dropped (up to
/// [`DRAIN_LIMIT`]), so the client gets that answer instead of a reset connection.
async fn read_capped(mut body: Body, max: usize) -> Result<Bytes, axum::Error> {
    let cap = max.saturating_add(1);
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            seen = seen.saturating_add(data.len());
            if buf.len() < cap {
                buf.extend_from_slice(&data[..data.len().min(cap - buf.len())]);
            }
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    Ok(buf.freeze())
}

/// How much of an oversized body is read only to be dropped; past it the connection closes.
const DRAIN_LIMIT: usize = 1024 * 1024;

fn demo_page() -> authfn::response::HttpResponse {
    let mut res = http::Response::new(DEMO_PAGE.to_owned());
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request body whose client went away mid-upload.
    struct BrokenBody;

    impl http_body::Body for BrokenBody {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::Error::other("client went away"))))
        }
    }

    #[tokio::test]
    async fn a_body_cut_off_mid_upload_is_answered_in_json() {
        let (config, _) = crate::config::load(|_| None, 3000).unwrap();
        let app = Arc::new(App::new(config, Arc::new(authfn::store::MemoryStore::new())).unwrap());
        let req = http::Request::post("/auth/sign-in")
            .header("content-type", "application/json")
            .body(Body::new(BrokenBody))
            .unwrap();
        let peer = SocketAddr::from(([127, 0, 0, 1], 5555));
        let (res, _, _) = serve_logged(app, peer, req).await;
        assert_eq!(res.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(
            res.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "invalid_request", "{json}");
    }

    #[tokio::test]
    async fn each_request_gets_a_line_saying_why_it_failed() {
        let (config, _) = crate::config::load(|_| None, 3000).unwrap();
        let app = Arc::new(App::new(config, Arc::new(authfn::store::MemoryStore::new())).unwrap());
        let body = r#"{"email":"nobody@example.com","password":"not-the-password"}"#;
        let req = http::Request::post("/auth/sign-in?x=query-secret")
            .header("content-type", "application/json")
            .header("origin", "http://localhost:3000")
            .body(Body::from(body))
            .unwrap();
        let (res, line, _) = serve_logged(app, SocketAddr::from(([127, 0, 0, 1], 5555)), req).await;
        assert_eq!(res.status(), http::StatusCode::UNAUTHORIZED);
        let human = LogFormat::Human.render(&line);
        assert!(
            human.starts_with("POST /auth/sign-in 401 invalid_credentials "),
            "{human}"
        );
        assert!(human.ends_with("ms"), "{human}");
        let json = LogFormat::from_setting(Some("JSON")).render(&line);
        assert!(json.contains(r#""error":"invalid_credentials""#), "{json}");
        for secret in ["nobody", "not-the-password", "query-secret"] {
            assert!(
                !human.contains(secret) && !json.contains(secret),
                "{secret} in {human} / {json}"
            );
        }
    }

    #[tokio::test]
    async fn bodies_are_cut_one_byte_past_the_limit() {
        let big = Body::from(vec![b'x'; 100_000]);
        assert_eq!(read_capped(big, 16).await.unwrap().len(), 17);
        let small = Body::from("{}");
        assert_eq!(
            read_capped(small, 16).await.unwrap(),
            Bytes::from_static(b"{}")
        );
    }

    #[tokio::test]
    async fn the_mailbox_lists_what_was_sent_newest_first_and_no_deployment_serves_it() {
        use authfn::mail::{Mail, Mailer};
        let (config, _) = crate::config::load(|_| None, 3000).unwrap();
        let app = Arc::new(App::new(config, Arc::new(authfn::store::MemoryStore::new())).unwrap());
        let mailbox = Arc::new(Mailbox::new());
        for subject in ["Verify your address", "Reset your password"] {
            let mail = Mail {
                to: authfn::email::Email::parse("ada@example.com").unwrap(),
                subject: subject.into(),
                text: "https://app.example/#token=abc".into(),
                html: String::new(),
            };
            mailbox.send(&mail).await.unwrap();
        }
        let served = Served {
            app: app.clone(),
            log: LogFormat::Human,
            mailbox,
        };
        let res = list_mail(State(served)).await;
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(listed[0]["subject"], "Reset your password");
        assert_eq!(listed[1]["subject"], "Verify your address");
        assert_eq!(listed[1]["to"], "ada@example.com");
        assert_eq!(listed[1]["text"], "https://app.example/#token=abc");

        // The same path through the code every function and the Worker run: not found.
        let req = http::Request::get("/dev/mailbox")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(app.route(req).await.status(), http::StatusCode::NOT_FOUND);
    }
}
