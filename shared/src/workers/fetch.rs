//! Outbound `fetch` from the Worker, over web-sys's bindings to the runtime's own `fetch`.
//!
//! Not workers-rs's `Request::new_with_init`: it converts the whole of its `RequestInit` to
//! JavaScript, Cloudflare's image-resizing and cache options among it, and that was 9 KB of the
//! Worker's wasm (whose size is counted) for two callers that set a method, headers and a body.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, RequestRedirect, Response, WorkerGlobalScope};

/// What a request sends besides its URL.
pub(crate) struct Outbound<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
}

/// An answer's status, and its body read whole.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Headers,
}

/// Sends `request` to `url`. A redirect is never followed: authfn only calls URLs that the
/// provider or AWS published, and a redirect answer is theirs to explain. The error is the
/// runtime's, as text.
pub(crate) async fn send(url: &str, request: Outbound<'_>) -> Result<Answer, String> {
    sent(url, request).await.map_err(|e| js_error_text(&e))
}

async fn sent(url: &str, request: Outbound<'_>) -> Result<Answer, JsValue> {
    let headers = Headers::new()?;
    for (name, value) in request.headers {
        headers.append(name, value)?;
    }
    let init = RequestInit::new();
    init.set_method(request.method);
    init.set_redirect(RequestRedirect::Manual);
    init.set_headers(&headers);
    if let Some(body) = request.body {
        init.set_body(&js_sys::Uint8Array::from(body));
    }
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let res: Response = JsFuture::from(global.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    let body = JsFuture::from(res.array_buffer()?).await?;
    Ok(Answer {
        status: res.status(),
        body: js_sys::Uint8Array::new(&body).to_vec(),
        headers: res.headers(),
    })
}

/// A thrown JavaScript value as a log can show it: an `Error`'s name and message, a string as
/// it is, anything else by its type alone.
fn js_error_text(e: &JsValue) -> String {
    if let Some(error) = e.dyn_ref::<js_sys::Error>() {
        format!(
            "{}: {}",
            String::from(error.name()),
            String::from(error.message())
        )
    } else if let Some(text) = e.as_string() {
        text
    } else {
        format!("a thrown {}", e.js_typeof().as_string().unwrap_or_default())
    }
}
