//! A small client for authfn as any HTTP client sees it, for the black-box suite in
//! `tests/http.rs`. Nothing here knows how authfn is built: only URLs, headers and JSON.
//!
//! The target comes from the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `AUTHFN_BASE_URL` | required, e.g. `http://127.0.0.1:3000` |
//! | `AUTHFN_URL_STYLE` | `paths` (default): endpoints at their paths; `lambda-url`: cargo lambda's local function URLs |
//! | `AUTHFN_TEST_TRUSTED_ORIGIN` | an origin the deployment trusts; default `http://localhost:5173` |
//!
//! [`Mailbox::for_target`] reads the mail the deployment sent; see `mailbox.rs` for where from.
//! [`ServerLog::from_env`] reads what it logged and [`EventBusReader::from_env`] what its event
//! bus received; see `server_log.rs`.

mod api;
pub mod authenticator;
mod mailbox;
pub mod one_shot;
mod reply;
pub mod server_log;
mod target;
pub mod totp;

pub use api::{Api, Auth};
pub use authfn::Endpoint;
pub use mailbox::{Mail, Mailbox};
pub use reply::{Reply, SessionCookie};
pub use server_log::{EventBusReader, LogMark, ServerLog};
pub use target::{Target, UrlStyle};

/// A fresh address per call, so tests can run in parallel against a shared server and be
/// re-run without cleaning its store.
pub fn unique_email(tag: &str) -> String {
    format!("bb-{tag}-{}@example.com", random_hex())
}

/// 64 random bits as hex: plenty to never collide with another run.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
