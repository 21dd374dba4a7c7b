//! The server-rendered pages of the device flow: plain HTML that works without JavaScript,
//! and may not be framed (an approval button under someone else's overlay is clickjacking).

use http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use http::{HeaderValue, Response, StatusCode};

pub(super) use crate::html::escape;
use crate::response::HttpResponse;

/// A page in the shared layout, under headers that forbid framing and scripts. `title` is
/// escaped here; `body` must already be safe HTML.
pub(super) fn html(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let text = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button,input{{font-size:1rem;padding:.4rem .8rem}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    let mut res = Response::new(text);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}
