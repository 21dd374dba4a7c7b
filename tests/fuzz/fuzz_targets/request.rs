//! Whole requests through `App::route`, the code every runtime runs, over the in-memory
//! store: arbitrary method, path (every endpoint's route, or anything), query, headers
//! (cookies, origins, content types, bearer tokens…) and body. Properties: no panic, never a
//! 5xx (the memory store cannot fail, and no provider is configured to be unreachable), and
//! every JSON error has the `{error, message}` shape.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use authfn::request::{ClientIp, HttpRequest};
use authfn::store::MemoryStore;
use authfn::{App, Config, Endpoint};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

const HEADERS: [&str; 10] = [
    "cookie",
    "origin",
    "content-type",
    "authorization",
    "sec-fetch-site",
    "accept",
    "referer",
    "access-control-request-method",
    "access-control-request-headers",
    "x-forwarded-for",
];
const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::OPTIONS, Method::HEAD, Method::DELETE];

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    /// An endpoint's route (by index, with `provider` for `{provider}`), or `raw_path`.
    endpoint: u8,
    provider: String,
    raw_path: String,
    query: String,
    headers: Vec<(u8, Vec<u8>)>,
    body: Vec<u8>,
}

struct Harness {
    app: App,
    runtime: tokio::runtime::Runtime,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let seed = authfn::crypto::b64url(&[3u8; 32]);
        let config = Config::from_lookup(|name| {
            Some(match name {
                "AUTHFN_SESSION_KEYS" => authfn::crypto::b64url(&[7u8; 32]),
                "AUTHFN_TRUSTED_ORIGINS" => "https://app.example.com".into(),
                "AUTHFN_PUBLIC_URL" => "https://auth.example.com".into(),
                "AUTHFN_RETURN_TO" => "https://app.example.com/".into(),
                "AUTHFN_OAUTH_CLIENTS" => "cli,rs".into(),
                "AUTHFN_OAUTH_CLIENT_RS_SECRET" => "a-long-enough-client-secret-for-fuzzing-0123456789".into(),
                "AUTHFN_JWT_KEYS" => seed.clone(),
                // Cheap hashing: the fuzzer is after parsing bugs, not password cost.
                "AUTHFN_ARGON2_MEMORY_KIB" => "64".into(),
                "AUTHFN_ARGON2_ITERATIONS" => "1".into(),
                _ => return None,
            })
        })
        .expect("fuzz configuration is valid");
        let app = App::new(config, Arc::new(MemoryStore::new())).expect("app builds");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        Harness { app, runtime }
    })
}

fn request(input: &Input) -> Option<HttpRequest> {
    let path = match Endpoint::ALL.get(usize::from(input.endpoint)) {
        Some(endpoint) => endpoint.path().replace("{provider}", &input.provider),
        None => input.raw_path.clone(),
    };
    let uri = if input.query.is_empty() { path } else { format!("{path}?{}", input.query) };
    let mut builder = http::Request::builder()
        .method(METHODS[usize::from(input.method) % METHODS.len()].clone())
        .uri(format!("https://auth.example.com{uri}"))
        .extension(ClientIp("203.0.113.9".into()));
    for (name, value) in &input.headers {
        let name = HeaderName::from_static(HEADERS[usize::from(*name) % HEADERS.len()]);
        builder = builder.header(name, HeaderValue::from_bytes(value).ok()?);
    }
    builder.body(Bytes::from(input.body.clone())).ok()
}

fuzz_target!(|input: Input| {
    let Some(req) = request(&input) else { return };
    // A HEAD answer rightly has no body to check.
    let has_body = req.method() != Method::HEAD;
    let Harness { app, runtime } = harness();
    let res = runtime.block_on(app.route(req));
    let status = res.status();
    assert!(!status.is_server_error(), "{status} for {input:?}");
    let is_json = res.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_client_error() && is_json && has_body {
        let body: serde_json::Value = serde_json::from_str(res.body()).expect("JSON error body");
        assert!(body["error"].is_string() && body["message"].is_string(), "error shape: {body}");
    }
});
