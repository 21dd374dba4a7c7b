//! One structured log line per request, built here so that every runtime writes the same
//! line; each adapter only chooses where it goes (stderr on Lambda, the console on Workers,
//! the dev server's terminal).
//!
//! What a line holds is chosen so that it can never carry a credential: the method, the path
//! (never the query string, which carries codes and states), the status, the error code and
//! its cause chain ([`ErrorDetail`]), the latency and a request id. No header, cookie or body
//! is read.

use serde::Serialize;

use crate::endpoints::Endpoint;
use crate::request::HttpRequest;
use crate::response::{ErrorDetail, HttpResponse};
use crate::store::usage::StoreUsage;

/// Paths longer than this are cut in the log: any route fits, and a 414's path is junk.
const MAX_LOGGED_PATH: usize = 256;

/// A request being served: what its log line needs from the request, and when it began.
#[derive(Debug)]
pub struct RequestLog {
    request_id: String,
    endpoint: Option<&'static str>,
    method: String,
    path: String,
    started: Stopwatch,
}

impl RequestLog {
    /// Starts timing `req`. `request_id` is the runtime's own (API Gateway's request id, the
    /// `cf-ray` header), so the line can be matched with the platform's logs.
    pub fn start(req: &HttpRequest, request_id: impl Into<String>) -> Self {
        Self::new(req.method().as_str(), req.uri().path(), request_id)
    }

    /// [`RequestLog::start`] for a request not yet converted to an [`HttpRequest`]; `path`
    /// must be the path alone, without the query string.
    pub fn new(method: &str, path: &str, request_id: impl Into<String>) -> Self {
        RequestLog {
            request_id: request_id.into(),
            endpoint: Endpoint::for_path(path).map(Endpoint::function_name),
            method: method.to_owned(),
            path: truncate(path, MAX_LOGGED_PATH).to_owned(),
            started: Stopwatch::start(),
        }
    }

    /// Names the endpoint that serves the request whatever its path (a Lambda function
    /// serves one, and answers other paths with 404).
    pub fn served_by(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint.function_name());
        self
    }

    /// The line for the answer `res`.
    pub fn finish(self, res: &HttpResponse) -> LogLine {
        let detail = res.extensions().get::<ErrorDetail>();
        LogLine {
            endpoint: self.endpoint,
            method: self.method,
            path: self.path,
            status: res.status().as_u16(),
            error: detail.map(|d| d.code),
            cause: detail.and_then(|d| d.cause.clone()),
            latency_ms: self.started.elapsed_ms(),
            request_id: self.request_id,
            store: res
                .extensions()
                .get::<StoreUsage>()
                .copied()
                .filter(|usage| !usage.is_empty()),
        }
    }
}

/// A fresh request id, for a runtime that gives none (the dev server; `wrangler dev`, which
/// sets no `cf-ray`): 8 random characters, or none if the OS has no randomness to give.
pub fn new_request_id() -> String {
    crate::crypto::random_array::<6>()
        .map(|id| crate::crypto::b64url(&id))
        .unwrap_or_default()
}

/// One served request, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// The function name of the endpoint (`sign-in`), if the path is one.
    pub endpoint: Option<&'static str>,
    /// The request method.
    pub method: String,
    /// The request path, without its query string.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// The `error` code of an error answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// Why a failure on our side or upstream happened (see [`ErrorDetail::cause`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Wall-clock time from the start of the request to its answer (on Workers, the clock
    /// only moves across I/O).
    pub latency_ms: u64,
    /// The runtime's id for the request.
    pub request_id: String,
    /// What the request asked of the store, when the store counts (see
    /// [`crate::store::usage`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreUsage>,
}

impl LogLine {
    /// The line as one JSON object (what CloudWatch and Workers Logs index), with a `level`
    /// (`ERROR` for a 5xx, else `INFO`), which Lambda's JSON log format filters on.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Levelled<'a> {
            level: &'static str,
            #[serde(flatten)]
            line: &'a LogLine,
        }
        let level = if self.is_server_error() {
            "ERROR"
        } else {
            "INFO"
        };
        // Strings and numbers only: serialisation cannot fail.
        serde_json::to_string(&Levelled { level, line: self }).unwrap_or_default()
    }

    /// The line for a person at a terminal: `POST /auth/sign-in 401 invalid_credentials 312ms`,
    /// then the cause of a failure on our side, if any.
    pub fn human(&self) -> String {
        let mut line = format!("{} {} {}", self.method, self.path, self.status);
        if let Some(code) = self.error {
            line.push(' ');
            line.push_str(code);
        }
        line.push_str(&format!(" {}ms", self.latency_ms));
        if let Some(store) = &self.store {
            line.push_str(&format!(" ({} store round trips)", store.round_trips));
        }
        if let Some(cause) = &self.cause {
            line.push_str(" — ");
            line.push_str(cause);
        }
        line
    }

    /// Whether the failure is ours or upstream's (5xx), for runtimes with log levels.
    pub fn is_server_error(&self) -> bool {
        self.status >= 500
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Wall-clock time since a start: `Instant` natively; on wasm32, where `Instant` panics,
/// JavaScript's `Date.now()`.
#[derive(Debug)]
struct Stopwatch {
    #[cfg(not(target_arch = "wasm32"))]
    started: std::time::Instant,
    #[cfg(target_arch = "wasm32")]
    started_ms: f64,
}

impl Stopwatch {
    fn start() -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        return Stopwatch {
            started: std::time::Instant::now(),
        };
        #[cfg(target_arch = "wasm32")]
        return Stopwatch {
            started_ms: js_sys::Date::now(),
        };
    }

    fn elapsed_ms(&self) -> u64 {
        #[cfg(not(target_arch = "wasm32"))]
        return u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        #[cfg(target_arch = "wasm32")]
        {
            // Date.now() is whole milliseconds and never goes back within an isolate; the
            // cast saturates.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a non-negative whole number of milliseconds; the cast saturates"
            )]
            return (js_sys::Date::now() - self.started_ms).max(0.0) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn line(method: &str, uri: &str, res: &HttpResponse) -> LogLine {
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(bytes::Bytes::new())
            .unwrap();
        RequestLog::start(&req, "req-1").finish(res)
    }

    #[test]
    fn the_query_string_is_never_logged() {
        let res = crate::response::no_content();
        let line = line(
            "GET",
            "/auth/federation/google/callback?code=secret-code&state=s",
            &res,
        );
        assert_eq!(line.path, "/auth/federation/google/callback");
        assert_eq!(line.endpoint, Some("federation-callback"));
        assert!(!line.json().contains("secret-code"), "{}", line.json());
    }

    #[test]
    fn an_error_answer_logs_its_code_and_cause() {
        let cause = crate::error::context("DynamoDB GetItem", "timed out");
        let res = crate::response::error(ApiError::StoreUnavailable(cause), false);
        let line = line("GET", "/auth/session", &res);
        assert_eq!(line.error, Some("store_unavailable"));
        assert_eq!(line.cause.as_deref(), Some("DynamoDB GetItem: timed out"));
        let json: serde_json::Value = serde_json::from_str(&line.json()).unwrap();
        assert_eq!(json["endpoint"], "session");
        assert_eq!(json["status"], 503);
        assert_eq!(json["error"], "store_unavailable");
        assert_eq!(json["request_id"], "req-1");
        assert_eq!(json["level"], "ERROR", "Lambda's log-level filter reads it");
        assert!(json["latency_ms"].is_u64());
        assert!(
            line.human()
                .starts_with("GET /auth/session 503 store_unavailable "),
            "{}",
            line.human()
        );
        assert!(
            line.human().ends_with("ms — DynamoDB GetItem: timed out"),
            "{}",
            line.human()
        );
    }

    #[test]
    fn long_paths_are_cut_on_a_character_boundary() {
        let path = format!("/{}", "é".repeat(300));
        let line = line("GET", &path, &crate::response::no_content());
        assert!(line.path.len() <= MAX_LOGGED_PATH && line.path.len() > MAX_LOGGED_PATH - 2);
    }
}
